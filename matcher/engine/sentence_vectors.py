"""The offerings' description sentences as vectors, one block of rows per catalogue row.

The sentence pass (``RankingEngine``) compares a need's sentences with each head offering's
sentences; those offering vectors are the largest thing the engine holds (about 4.7 sentences
an offering: 100,000 offerings hold 470,000 vectors, 963 MB as float32 at 512 dimensions). They
are kept as **float16** (half the memory; a cosine moves by about 1e-4, and the dev set's
top-10 rankings are unchanged, checked in ``tests/engine/test_sentence_vectors.py``) in one
matrix that may be a read-only memory map of the persisted file (``matcher.engine.artefacts``),
so that workers on one machine share its pages. Rows changed since that matrix was made live in
a small overlay.

The sentences' texts are not stored: ``sentences(offering.description)`` gives them again when
an explanation needs one (the vectors are aligned with that list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

STORED = np.float16


class SentenceVectors:
    """Immutable. ``vectors(row)`` is row ``row``'s sentence vectors (float16, one per sentence
    of its description) or None when the row has none (an inactive offering)."""

    def __init__(
        self,
        offsets: np.ndarray,
        matrix: np.ndarray,
        present: np.ndarray,
        overlay: Mapping[int, np.ndarray | None] | None = None,
        dimension: int | None = None,
    ) -> None:
        self.offsets = offsets  # int64, rows + 1: row r's vectors are matrix[offsets[r]:offsets[r+1]]
        self.matrix = matrix  # float16 (possibly a read-only memory map)
        self.present = present  # bool per row: whether the row has vectors at all
        self._overlay = dict(overlay or {})
        self.dimension = dimension if dimension is not None else (matrix.shape[1] if matrix.ndim == 2 else 0)

    @classmethod
    def of(cls, blocks: Sequence[np.ndarray | None], dimension: int) -> SentenceVectors:
        """From each row's vectors (float32 or float16 rows, or None)."""
        sizes = [0 if block is None else len(block) for block in blocks]
        offsets = np.zeros(len(blocks) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(sizes)
        present = np.array([block is not None for block in blocks], dtype=bool)
        kept = [np.asarray(block, dtype=STORED) for block in blocks if block is not None and len(block)]
        matrix = np.concatenate(kept) if kept else np.zeros((0, dimension), dtype=STORED)
        return cls(offsets, matrix, present, dimension=dimension)

    @classmethod
    def empty(cls) -> SentenceVectors:
        return cls(np.zeros(1, dtype=np.int64), np.zeros((0, 0), dtype=STORED), np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return max(len(self.present), max(self._overlay, default=-1) + 1)

    def vectors(self, row: int) -> np.ndarray | None:
        if row in self._overlay:
            return self._overlay[row]
        if row >= len(self.present) or not self.present[row]:
            return None
        return self.matrix[self.offsets[row] : self.offsets[row + 1]]

    def changed(self, rows: Mapping[int, np.ndarray | None]) -> SentenceVectors:
        """A new store where each row of ``rows`` has the given vectors (None: none)."""
        if not rows:
            return self
        overlay = dict(self._overlay)
        for row, block in rows.items():
            overlay[row] = None if block is None else np.asarray(block, dtype=STORED)
        return SentenceVectors(self.offsets, self.matrix, self.present, overlay, self.dimension)

    def compacted(self) -> SentenceVectors:
        """The same vectors in one matrix (what is persisted)."""
        if not self._overlay and len(self.present) == len(self):
            return self
        return SentenceVectors.of([self.vectors(row) for row in range(len(self))], self.dimension)

    def nbytes(self) -> int:
        return int(self.matrix.nbytes) + sum(
            block.nbytes for block in self._overlay.values() if block is not None
        )
