"""The ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from evaluation.metrics import (
    mean,
    ndcg,
    paired_bootstrap,
    per_need,
    precision,
    recall_of_grade,
    reciprocal_rank,
)

GRADES = {"a": 2, "b": 1, "c": 1}


def test_ndcg_by_hand() -> None:
    # ranked b, x, a: gains 1, 0, 3 at discounts log2(2), log2(3), log2(4)
    dcg = 1 / 1 + 0 + 3 / 2
    # ideal a, b, c: gains 3, 1, 1
    ideal = 3 / 1 + 1 / math.log2(3) + 1 / 2
    assert ndcg(["b", "x", "a"], GRADES, 10) == pytest.approx(dcg / ideal)
    assert dcg / ideal == pytest.approx(0.6052, abs=1e-4)  # 2.5 / 4.1309


def test_ndcg_cuts_at_k_on_both_sides() -> None:
    # at k = 1 only the first place counts, against the ideal first place (grade 2, gain 3)
    assert ndcg(["b", "a"], GRADES, 1) == pytest.approx(1 / 3)
    assert ndcg(["a", "b", "c"], GRADES, 3) == pytest.approx(1.0)
    assert ndcg(["x", "y"], GRADES, 10) == 0.0
    assert ndcg(["a"], {}, 10) == 0.0  # nothing judged: 0, not a division by zero


def test_reciprocal_rank_precision_and_recall_by_hand() -> None:
    assert reciprocal_rank(["x", "y", "c"], GRADES) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"] * 10 + ["a"], GRADES) == 0.0  # beyond the top 10
    assert precision(["a", "x", "b", "y", "z"], GRADES, 5) == pytest.approx(2 / 5)
    assert recall_of_grade(["b", "a"], {"a": 2, "d": 2, "b": 1}, 2, 10) == pytest.approx(1 / 2)
    assert recall_of_grade(["a"], {"b": 1}, 2, 10) is None  # no grade-2 judgment: not counted


def test_per_need_and_mean_skip_missing_values() -> None:
    values = per_need(["c", "a"], {"a": 1, "c": 1})
    assert values["recall2@10"] is None
    assert values["ndcg@10"] == pytest.approx(1.0)
    assert values["mrr"] == 1.0
    assert mean([1.0, None, 0.0]) == pytest.approx(0.5)
    assert math.isnan(mean([None]))


def test_paired_bootstrap_centres_on_the_mean_difference() -> None:
    difference, low, high = paired_bootstrap([1.0, 0.5, 0.75, 1.0], [0.5, 0.5, 0.25, 0.5])
    assert difference == pytest.approx(0.375)  # mean of 0.5, 0, 0.5, 0.5
    assert 0.0 <= low <= difference <= high <= 0.5
    same = paired_bootstrap([0.3, 0.3], [0.3, 0.3])
    assert same == pytest.approx((0.0, 0.0, 0.0))
