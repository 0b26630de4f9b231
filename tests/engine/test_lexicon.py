"""The catalogue's BM25 against bm25s (``LexicalIndex``), before and after row changes."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.dataset import load_labelled_set
from matcher.engine import lexicon
from matcher.engine.lexicon import Lexicon, RowMajor, TermMatrix, Vocabulary, count_terms
from matcher.engine.text.lexical import LexicalIndex

EXTRA_QUERIES = ["zebrafish biomarkers", "cement kilns hospitals hospitals", "", "the of and"]


def build(texts: list[str]) -> Lexicon:
    vocabulary = Vocabulary()
    return Lexicon.of(vocabulary, RowMajor.of([count_terms(text, vocabulary) for text in texts]))


def assert_same_scores(mine: Lexicon, texts: list[str], queries: list[str]) -> None:
    oracle = LexicalIndex(texts)
    for query in queries:
        np.testing.assert_allclose(mine.score_all(query), oracle.score_all(query), rtol=2e-6, atol=1e-6)


@pytest.fixture(scope="module")
def dev() -> tuple[list[str], list[str]]:
    data = load_labelled_set()
    return [offering.text for offering in data.offerings], [need.text for need in data.needs] + EXTRA_QUERIES


def test_scores_equal_bm25s(dev: tuple[list[str], list[str]]) -> None:
    texts, queries = dev
    assert_same_scores(build(texts), texts, queries)


def test_changed_and_added_rows_score_as_a_fresh_index(dev: tuple[list[str], list[str]]) -> None:
    texts, queries = dev
    first = build(texts)
    changed = list(texts)
    changed[3] = "Mercury waste storage in hospitals, hospitals and clinics."
    changed[10] += " Additional words about cement kilns."
    changed.append("A brand new offering about zebrafish mercury biomarkers.")
    second = first.changed({row: count_terms(changed[row], first.vocabulary) for row in (3, 10, len(texts))})
    assert_same_scores(second, changed, queries)
    assert_same_scores(first, texts, queries[:5])  # the earlier lexicon is untouched
    # The donor view's direction: one row against many queries.
    matrix = TermMatrix([count_terms(query, second.vocabulary) for query in queries])
    direct = np.array([second.score_all(query)[10] for query in queries])
    np.testing.assert_allclose(second.row_scores(10, matrix), direct, rtol=1e-6, atol=1e-7)


def test_many_changes_compact_into_a_new_term_major_copy(
    dev: tuple[list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, queries = dev
    monkeypatch.setattr(lexicon, "COMPACT_MINIMUM", 4)
    current, state = build(texts), list(texts)
    for step in range(12):
        row = (7 * step) % len(state)
        state[row] = f"{state[row]} step {step} mercury waste"
        current = current.changed({row: count_terms(state[row], current.vocabulary)})
    assert_same_scores(current, state, queries)
    assert (
        current.rows().ids.tolist() == RowMajor.of([current.row(r) for r in range(len(state))]).ids.tolist()
    )
