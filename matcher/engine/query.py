"""A need prepared once: everything ranking, explanations, coaching and the pages read of it.

``QueryBuilder.prepare`` tags the need's text once and derives the rest from that one
tagging; every consumer then reads the same ``NeedQuery`` (``RankingEngine.rank`` and
``score_pair``, ``RequestReader.assess``, the workbench's matched keywords), so nothing tags
a need twice while serving one request.

"need-in-English" (``english_text``) is the need text plus the English labels and
definitions of its stated and inferred codes and the English counterparts (the keyword
glossary) of the taxonomy keywords it matched: the offerings are written in English, and
this is how a French or Arabic need still gets lexical and English-model evidence, down to
the sub-sector (a French "four à ciment" brings "cement kiln", not only the definition of
emissions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.codes import CodeSpace
from matcher.engine.domain import NeedProfile
from matcher.engine.text.lexical import sentences, tokenize
from matcher.engine.text.tagging import Glossary, KeywordTagger, TagEvidence, english_equivalents
from matcher.engine.vagueness import Vagueness
from matcher.taxonomy import Taxonomy

SENTENCES = "sentences"  # need_vectors key: one row per need sentence, multilingual encoder
INFERRED_GLOSS_EVIDENCE = 2.0  # an inferred code needs this much evidence to add its gloss


@dataclass(frozen=True, eq=False)
class NeedQuery:
    """One need, prepared for ranking and coaching. Immutable; compared by identity (it holds
    arrays); build it with ``QueryBuilder.prepare`` (or ``RankingEngine.prepare``).

    ``evidence`` is the keyword tagging of ``need.text`` in the need's own language: the
    inferred codes, with their strength and matched keywords. The stated codes are the need's
    own (``need.sectors``, ``need.assistance_types``). ``vagueness`` holds the inputs of both
    the score's specificity and the coaching's vague check. The texts are what each encoder
    role embeds (``texts``); ``code_profile`` is the need's unit-length code vector.
    """

    need: NeedProfile
    evidence: TagEvidence
    vagueness: Vagueness
    multilingual_text: str
    english_text: str
    sentences: tuple[str, ...]
    code_profile: np.ndarray = field(repr=False)

    @property
    def language(self) -> str | None:
        return self.need.language

    @property
    def specificity(self) -> float:
        """0 for a need that names nothing specific, 1 for one with clear codes (the score's reading)."""
        return self.vagueness.specificity

    def texts(self) -> dict[str, list[str]]:
        """The texts each role embeds: one text for each encoder role (``MULTILINGUAL``,
        ``ENGLISH``), the need's sentences for ``SENTENCES`` (multilingual encoder)."""
        return {
            MULTILINGUAL: [self.multilingual_text],
            ENGLISH: [self.english_text],
            SENTENCES: list(self.sentences),
        }

    @cached_property
    def english_terms(self) -> tuple[str, ...]:
        """Distinct content terms of ``english_text``, in order (every explanation of one
        ranking asks for them, so they are worked out once)."""
        return tuple(dict.fromkeys(tokenize(self.english_text, remove_stopwords=True)))


class QueryBuilder:
    """Prepares needs: holds the taxonomy, the tagger and the keyword glossary they need.

    ``glossary`` maps (code, non-English keyword) to its English counterpart; without one
    (``{}``) the need-in-English text carries only code labels and definitions.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        tagger: KeywordTagger,
        glossary: Glossary | None = None,
        codes: CodeSpace | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.tagger = tagger
        self.glossary: Glossary = glossary if glossary is not None else {}
        self.codes = codes or CodeSpace(taxonomy)

    def prepare(self, need: NeedProfile, evidence: TagEvidence | None = None) -> NeedQuery:
        """The query of ``need``. ``evidence``, when given, must be this builder's tagger's
        reading of ``need.text`` in ``need.language`` (``RequestReader.read`` gives it): it
        spares tagging the text again."""
        if evidence is None:
            evidence = self.tagger.tag(need.text, need.language)
        return NeedQuery(
            need=need,
            evidence=evidence,
            vagueness=Vagueness.of(need, evidence),
            multilingual_text=need.text,
            english_text=self.english_text(need, evidence),
            sentences=tuple(sentences(need.text)),
            code_profile=self.codes.need_profile((*need.sectors, *need.assistance_types), evidence),
        )

    def english_text(self, need: NeedProfile, evidence: TagEvidence) -> str:
        """The need text plus English labels and definitions of its codes (stated ones, and
        inferred ones with at least ``INFERRED_GLOSS_EVIDENCE``) and the English counterparts
        of the non-English keywords it matched."""
        codes = [
            *need.sectors,
            *need.assistance_types,
            *evidence.codes("sectors", INFERRED_GLOSS_EVIDENCE),
            *evidence.codes("assistance_types", INFERRED_GLOSS_EVIDENCE),
        ]
        glosses = []
        for code in dict.fromkeys(codes):
            entry = self.taxonomy.sectors.get(code) or self.taxonomy.assistance_types.get(code)
            if entry is not None:
                glosses.append(f"{entry.label_in('en')}: {entry.definition.get('en', '')}")
        return " ".join([need.text, *glosses, *english_equivalents(evidence, self.glossary)])
