"""BM25 over the catalogue's rows that changes row by row: the lexical evidence of a ranking.

Scores are those of ``matcher.engine.text.lexical.LexicalIndex`` (bm25s defaults: the Lucene
variant, k1 = 1.5, b = 0.75, the same tokeniser), checked against it in the tests, but the
index is kept as term counts rather than precomputed scores, so that one offering's change
costs in proportion to its own text, not to the catalogue:

* each row keeps its distinct term ids and their counts (``row_terms``);
* a term-major copy of those counts (``postings``) answers a query: for each query term, the
  rows holding it and their counts, scored with the current document frequencies and lengths
  (BM25's statistics change with every document, so they are applied at query time);
* a row changed or added since the term-major copy was built lives in a small overlay (term →
  its rows and counts); the copy is rebuilt once the overlay holds ``COMPACT_SHARE`` of the rows
  (an O(nnz) rebuild paid once per that many changes).

Immutable: ``changed`` returns a new ``Lexicon`` sharing what did not change, so a ranking
that holds the old one reads a consistent state while a write builds the next. The
``Vocabulary`` (term → id) is shared and only grows, under the writer's lock; a lexicon
ignores ids it has no statistics for.

Cost of a query: the postings of its terms (all rows holding them), summed with one
``np.bincount``: the same volume of work as bm25s's precomputed sparse scores.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.engine.text.lexical import tokenize

K1 = 1.5
B = 0.75
COMPACT_SHARE = 0.1  # rebuild the term-major copy when this share of rows changed since
COMPACT_MINIMUM = 256  # ... but never for fewer changes than this


class Vocabulary:
    """Term ids, shared by successive lexicons and only ever extended (under ``lock``)."""

    def __init__(self, words: Sequence[str] = ()) -> None:
        self.words: list[str] = list(words)
        self.ids: dict[str, int] = {word: number for number, word in enumerate(self.words)}
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.words)

    def add(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of ``tokens`` (aligned), new words added."""
        with self.lock:
            ids = self.ids
            out = np.empty(len(tokens), dtype=np.int32)
            for position, token in enumerate(tokens):
                number = ids.get(token)
                if number is None:
                    number = len(self.words)
                    ids[token] = number
                    self.words.append(token)
                out[position] = number
            return out

    def known(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of the ``tokens`` the vocabulary has (unknown ones left out, duplicates kept)."""
        ids = self.ids
        return np.fromiter((ids[token] for token in tokens if token in ids), dtype=np.int32)


@dataclass(frozen=True)
class RowCounts:
    """One row's distinct term ids (ascending) and their counts, and its length in tokens."""

    ids: np.ndarray
    counts: np.ndarray
    length: int


def count_terms(text: str, vocabulary: Vocabulary) -> RowCounts:
    """``text`` tokenised as BM25 reads it (stop words kept), as term ids and counts."""
    tokens = tokenize(text)
    ids = vocabulary.add(tokens)
    unique, counts = np.unique(ids, return_counts=True)
    return RowCounts(unique.astype(np.int32), counts.astype(np.int32), len(tokens))


@dataclass(frozen=True)
class _TermMajor:
    """Counts grouped by term: rows ``rows[offsets[t]:offsets[t+1]]`` hold term ``t``."""

    offsets: np.ndarray  # int64, len(vocabulary at build) + 1
    rows: np.ndarray  # int32
    counts: np.ndarray  # int32

    @property
    def terms(self) -> int:
        return len(self.offsets) - 1


@dataclass(frozen=True)
class RowMajor:
    """Counts grouped by row (the persisted form): row ``r`` holds ``ids[offsets[r]:offsets[r+1]]``."""

    offsets: np.ndarray  # int64, rows + 1
    ids: np.ndarray  # int32
    counts: np.ndarray  # int32
    lengths: np.ndarray  # int32, tokens per row

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, row: int) -> RowCounts:
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        return RowCounts(self.ids[start:end], self.counts[start:end], int(self.lengths[row]))

    @classmethod
    def of(cls, rows: Sequence[RowCounts]) -> RowMajor:
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        if rows:
            offsets[1:] = np.cumsum([len(row.ids) for row in rows])
        return cls(
            offsets=offsets,
            ids=np.concatenate([row.ids for row in rows]).astype(np.int32) if rows else _EMPTY_INT,
            counts=np.concatenate([row.counts for row in rows]).astype(np.int32) if rows else _EMPTY_INT,
            lengths=np.array([row.length for row in rows], dtype=np.int32),
        )


_EMPTY_INT = np.zeros(0, dtype=np.int32)
_EMPTY_LONG = np.zeros(0, dtype=np.int64)


def _term_major(base: RowMajor, terms: int) -> _TermMajor:
    rows = np.repeat(np.arange(len(base), dtype=np.int32), np.diff(base.offsets))
    order = np.argsort(base.ids, kind="stable")  # stable: rows ascending within a term
    per_term = np.bincount(base.ids, minlength=terms) if len(base.ids) else np.zeros(terms, np.int64)
    offsets = np.zeros(terms + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(per_term)
    return _TermMajor(offsets, rows[order], base.counts[order])


class Lexicon:
    """BM25 over rows ``0..n-1`` (row ``r`` is the catalogue's offering ``r``, active or not).

    Build it with ``Lexicon.of`` (rows' counts) and change it with ``changed``; ``score_all``
    gives every row's BM25 score for a query text, in row order (float32, 0 for a row sharing
    no term with it).
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        base: RowMajor,
        overlay: Mapping[int, RowCounts],
        postings: _TermMajor,
        overlay_postings: Mapping[int, tuple[np.ndarray, np.ndarray]],
        frequencies: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.vocabulary = vocabulary
        self._base = base
        self._overlay = dict(overlay)  # row -> its counts, for rows changed since ``postings``
        self._postings = postings
        self._overlay_postings = dict(overlay_postings)  # term -> (rows, counts) of overlay rows
        self._frequencies = frequencies  # documents holding each term
        self._lengths = lengths  # tokens per row
        self._stale = np.zeros(len(lengths), dtype=bool)
        if self._overlay:
            self._stale[np.fromiter(self._overlay, dtype=np.int64)] = True
        self._average_length = float(lengths.mean()) if len(lengths) else 0.0

    @classmethod
    def of(cls, vocabulary: Vocabulary, rows: RowMajor) -> Lexicon:
        """A lexicon over ``rows`` (their ids from ``vocabulary``)."""
        frequencies = np.bincount(rows.ids, minlength=len(vocabulary)).astype(np.int64)
        postings = _term_major(rows, len(frequencies))
        return cls(vocabulary, rows, {}, postings, {}, frequencies, rows.lengths.astype(np.int64))

    def __len__(self) -> int:
        return len(self._lengths)

    @property
    def base(self) -> RowMajor:
        return self._base

    def row(self, row: int) -> RowCounts:
        counts = self._overlay.get(row)
        return counts if counts is not None else self._base.row(row)

    def rows(self) -> RowMajor:
        """Every row's counts in row order (the persisted form)."""
        if not self._overlay and len(self._base) == len(self):
            return self._base
        return RowMajor.of([self.row(row) for row in range(len(self))])

    def frequency(self, term: str) -> int:
        """How many rows hold ``term`` (0 for a word it never saw)."""
        number = self.vocabulary.ids.get(term)
        return int(self._frequencies[number]) if number is not None and number < len(self._frequencies) else 0

    def changed(self, rows: Mapping[int, RowCounts]) -> Lexicon:
        """A new lexicon where each row of ``rows`` has the given counts (a row equal to
        ``len(self)`` or beyond appends, in order; rows must be contiguous)."""
        if not rows:
            return self
        size = max(len(self), max(rows) + 1)
        frequencies = np.zeros(max(len(self.vocabulary), len(self._frequencies)), dtype=np.int64)
        frequencies[: len(self._frequencies)] = self._frequencies
        lengths = np.zeros(size, dtype=np.int64)
        lengths[: len(self._lengths)] = self._lengths
        overlay = dict(self._overlay)
        touched: set[int] = set()
        for row, counts in rows.items():
            if row < len(self):
                old = self.row(row)
                np.subtract.at(frequencies, old.ids, 1)
                touched.update(old.ids.tolist())
            np.add.at(frequencies, counts.ids, 1)
            touched.update(counts.ids.tolist())
            lengths[row] = counts.length
            overlay[row] = counts
        if len(overlay) >= max(COMPACT_MINIMUM, COMPACT_SHARE * size):
            every = RowMajor.of([overlay.get(row) or self._base.row(row) for row in range(size)])
            return Lexicon.of(self.vocabulary, every)
        overlay_postings = dict(self._overlay_postings)
        moved = np.fromiter(rows, dtype=np.int64)
        added: dict[int, list[tuple[int, int]]] = {}
        for row, counts in rows.items():
            for term, count in zip(counts.ids.tolist(), counts.counts.tolist(), strict=True):
                added.setdefault(term, []).append((row, count))
        for term in touched:
            held_rows, held_counts = overlay_postings.get(term, (_EMPTY_LONG, _EMPTY_LONG))
            keep = ~np.isin(held_rows, moved)
            fresh = added.get(term, [])
            merged_rows = np.concatenate(
                [held_rows[keep], np.array([row for row, _ in fresh], dtype=np.int64)]
            )
            merged_counts = np.concatenate(
                [held_counts[keep], np.array([count for _, count in fresh], dtype=np.int64)]
            )
            if len(merged_rows):
                overlay_postings[term] = (merged_rows, merged_counts)
            else:
                overlay_postings.pop(term, None)
        return Lexicon(
            self.vocabulary, self._base, overlay, self._postings, overlay_postings, frequencies, lengths
        )

    def score_all(self, query_text: str) -> np.ndarray:
        """BM25 of every row for ``query_text`` (a query term repeated counts again, as in
        bm25s), float32 in row order; all zeros when no query term is known."""
        size = len(self)
        scores = np.zeros(size, dtype=np.float32)
        if size == 0:
            return scores
        terms = self.vocabulary.known(tokenize(query_text))
        terms = terms[terms < len(self._frequencies)]
        unique, repeats = np.unique(terms, return_counts=True)
        frequencies = self._frequencies[unique]
        present = frequencies > 0
        unique, repeats, frequencies = unique[present], repeats[present], frequencies[present]
        if len(unique) == 0:
            return scores
        weights = self.idf(frequencies) * repeats
        postings = self._postings
        parts: list[tuple[np.ndarray, np.ndarray, float, bool]] = []
        for term, weight in zip(unique.tolist(), weights.tolist(), strict=True):
            if term < postings.terms:
                start, end = postings.offsets[term], postings.offsets[term + 1]
                if end > start:
                    parts.append((postings.rows[start:end], postings.counts[start:end], weight, True))
            extra = self._overlay_postings.get(term)
            if extra is not None:
                parts.append((extra[0], extra[1], weight, False))
        if not parts:
            return scores
        rows = np.concatenate([part[0] for part in parts]).astype(np.int64)
        counts = np.concatenate([part[1] for part in parts]).astype(np.float64)
        term_weights = np.concatenate([np.full(len(part[0]), part[2]) for part in parts])
        contributions = term_weights * self._saturation(counts, rows)
        if self._overlay:
            # The term-major copy still holds a changed row's old counts: drop them (the
            # overlay's postings carry the row now).
            from_base = np.concatenate([np.full(len(part[0]), part[3]) for part in parts])
            contributions[from_base & self._stale[rows]] = 0.0
        return np.bincount(rows, weights=contributions, minlength=size).astype(np.float32)

    def idf(self, frequencies: np.ndarray) -> np.ndarray:
        """Lucene's idf, rounded to float32 as bm25s stores it."""
        documents = len(self)
        values = np.log1p((documents - frequencies + 0.5) / (frequencies + 0.5))
        return values.astype(np.float32).astype(np.float64)

    def _saturation(self, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
        lengths = self._lengths[rows]
        average = self._average_length or 1.0
        return counts / (K1 * ((1 - B) + B * lengths / average) + counts)

    def row_scores(self, row: int, queries: TermMatrix) -> np.ndarray:
        """BM25 of row ``row`` for each query of ``queries`` (the donor view's direction)."""
        counts = self.row(row)
        scores = np.zeros(queries.count, dtype=np.float64)
        if len(counts.ids) == 0 or queries.count == 0:
            return scores.astype(np.float32)
        average = self._average_length or 1.0
        idf = self.idf(self._frequencies[counts.ids])
        saturation = counts.counts / (K1 * ((1 - B) + B * counts.length / average) + counts.counts)
        weights = np.zeros(max(len(self._frequencies), queries.terms), dtype=np.float64)
        weights[counts.ids] = idf * saturation
        return queries.dot(weights[: queries.terms]).astype(np.float32)


class TermMatrix:
    """Many queries as term counts (query ``i``: ``queries[i]``, its distinct term ids and how
    often each occurs), for scoring one row against all of them at once
    (``Lexicon.row_scores``)."""

    def __init__(self, queries: Sequence[RowCounts]) -> None:
        self.count = len(queries)
        sizes = np.array([len(query.ids) for query in queries], dtype=np.int64)
        self.ids = (
            np.concatenate([query.ids for query in queries]).astype(np.int64)
            if queries
            else np.zeros(0, dtype=np.int64)
        )
        self.counts = (
            np.concatenate([query.counts for query in queries]).astype(np.float64) if queries else np.zeros(0)
        )
        self.terms = int(self.ids.max()) + 1 if len(self.ids) else 0
        self._query_of = np.repeat(np.arange(self.count), sizes)

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """Per query: the sum over its terms of count × ``weights[term]``."""
        if len(self.ids) == 0:
            return np.zeros(self.count)
        return np.bincount(self._query_of, weights=self.counts * weights[self.ids], minlength=self.count)
