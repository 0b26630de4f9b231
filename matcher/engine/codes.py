"""Code profiles: a need's or an offering's taxonomy codes as one unit vector.

The cosine of a need's profile and an offering's is the score's ``concept`` component. It is
a bridge between languages that needs no translation: a Spanish need and an English offering
meet in the taxonomy's codes.

* A need's profile weighs each stated code ``STATED_STRENGTH`` and each inferred code its
  keyword evidence (the number of distinct places it matched), capped at the same value.
* An offering's profile holds its listed codes plus those its own description mentions,
  each weighing 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from matcher.engine.text.tagging import TagEvidence
from matcher.taxonomy import Taxonomy

STATED_STRENGTH = 3.0


class CodeSpace:
    """The axes of code profiles: the taxonomy's sectors, then its assistance types."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.codes: tuple[str, ...] = (*taxonomy.sectors, *taxonomy.assistance_types)
        self.column: dict[str, int] = {code: column for column, code in enumerate(self.codes)}

    def __len__(self) -> int:
        return len(self.codes)

    def need_profile(self, stated: Iterable[str], evidence: TagEvidence) -> np.ndarray:
        """A need's unit-length float32 profile (read-only); codes outside the taxonomy are ignored."""
        profile = np.zeros(len(self.codes), dtype=np.float32)
        for scores in (evidence.sectors, evidence.assistance_types):
            for code, strength in scores.items():
                if code in self.column:
                    profile[self.column[code]] = min(STATED_STRENGTH, strength)
        for code in stated:
            if code in self.column:
                profile[self.column[code]] = STATED_STRENGTH
        return _read_only(unit(profile))

    def offering_profile(self, listed: Iterable[str], mentioned: TagEvidence) -> np.ndarray:
        """An offering's unit-length float32 profile: its ``listed`` codes and those its
        description's tagging (``mentioned``) found."""
        profile = np.zeros(len(self.codes), dtype=np.float32)
        for code in (*listed, *mentioned.sectors, *mentioned.assistance_types):
            if code in self.column:
                profile[self.column[code]] = 1.0
        return unit(profile)


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit L2 norm (a zero vector is returned as is)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _read_only(vector: np.ndarray) -> np.ndarray:
    vector.flags.writeable = False
    return vector
