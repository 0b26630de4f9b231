"""How specific a need is: the score's reading and the coaching flag's, side by side.

Both start from the same inputs (``Vagueness``), computed once per need when its query is
prepared:

* **subject strength**: the sector keyword evidence found in the text, the catch-all
  general-implementation sector (``GENERAL_SECTOR``) aside;
* whether the Party **stated** a sector;
* the number of **content words** (stop words aside).

The score reads them as a grade (``specificity``): 1 for a need that states a sector, else
the subject strength over ``SPECIFICITY_SCALE``, capped at 1. The generality component gives
an offering covering the general sector ``weights.generality × (1 − specificity)``.

The coaching flag reads them as a yes/no (``check``): a need is vague when it has **no
specific subject** (no sector stated and a subject strength below ``SPECIFIC_EVIDENCE``) and
either **generic wording** (fewer than ``DETAILED_WORDS`` content words) or, when a ranking is
given, **no clear leader** (the best score less than ``CLEAR_LEAD`` above the tenth). The
check was never fed the dev set's ``vague`` labels.

The two use different thresholds on purpose (a graded score against a flag that asks the
Party for more); making them one notion is later work, so both behave as they always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matcher.engine.domain import NeedProfile
from matcher.engine.text.lexical import tokenize
from matcher.engine.text.tagging import TagEvidence
from matcher.taxonomy import GENERAL_SECTOR

SPECIFICITY_SCALE = 4.0  # subject strength at which a need counts as fully specific (score)
SPECIFIC_EVIDENCE = 2.0  # subject strength below which a need has no specific subject (flag)
DETAILED_WORDS = 45  # content words below which the wording is generic (flag)
CLEAR_LEAD = 0.05  # lead of the best score over the tenth below which no offering stands out (flag)

NO_SPECIFIC_SUBJECT = "no_specific_subject"
GENERIC_WORDING = "generic_wording"
NO_CLEAR_LEADER = "no_clear_leader"


@dataclass(frozen=True)
class VagueCheck:
    """The coaching flag: ``vague``, and every reason found (a specific need may still have
    generic wording; the reasons are listed whatever the verdict)."""

    vague: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Vagueness:
    """What the specificity grade and the vague check read from one need."""

    states_a_sector: bool
    subject_strength: float
    content_words: int

    @classmethod
    def of(cls, need: NeedProfile, evidence: TagEvidence) -> Vagueness:
        """The inputs of ``need`` whose text was tagged as ``evidence``."""
        return cls(
            states_a_sector=bool(need.sectors),
            subject_strength=sum(score for code, score in evidence.sectors.items() if code != GENERAL_SECTOR),
            content_words=len(tokenize(need.text, remove_stopwords=True)),
        )

    @property
    def specificity(self) -> float:
        """For the score: 0 for a need that names nothing specific, 1 for one with clear codes."""
        if self.states_a_sector:
            return 1.0
        return min(1.0, self.subject_strength / SPECIFICITY_SCALE)

    def check(self, scores: Sequence[float] | None = None) -> VagueCheck:
        """For the coaching flag; ``scores``: the need's ranked scores, best first, if ranked."""
        no_subject = not self.states_a_sector and self.subject_strength < SPECIFIC_EVIDENCE
        reasons = []
        if no_subject:
            reasons.append(NO_SPECIFIC_SUBJECT)
        if self.content_words < DETAILED_WORDS:
            reasons.append(GENERIC_WORDING)
        if scores is not None and len(scores) >= 10 and scores[0] - scores[9] < CLEAR_LEAD:
            reasons.append(NO_CLEAR_LEADER)
        return VagueCheck(no_subject and len(reasons) > 1, tuple(reasons))
