"""Ranking metrics over graded judgments, and paired bootstrap confidence intervals.

Written out by hand (a few lines each) so that every definition is visible next to the
report that uses it:

* nDCG@k: gain 2^grade − 1, log2(rank + 1) discount, ideal ordering of all judged offerings;
* MRR: reciprocal rank of the first offering of grade ≥ 1 within the top 10 (0 if none);
* Recall@10 of grade-2 offerings: averaged over the needs that have grade-2 judgments only;
* P@5: share of the top 5 with grade ≥ 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

METRICS = ("ndcg@5", "ndcg@10", "mrr", "recall2@10", "p@5")


def ndcg(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    dcg = sum((2 ** grades.get(item, 0) - 1) / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]))
    ideal_grades = sorted(grades.values(), reverse=True)[:k]
    ideal = sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(ideal_grades))
    return dcg / ideal if ideal > 0 else 0.0


def reciprocal_rank(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    for rank, item in enumerate(ranked[:k]):
        if grades.get(item, 0) >= 1:
            return 1.0 / (rank + 1)
    return 0.0


def recall_of_grade(ranked: Sequence[str], grades: Mapping[str, int], grade: int, k: int) -> float | None:
    """Share of the offerings judged ``grade`` found in the top ``k``; None when there are none."""
    wanted = {item for item, value in grades.items() if value == grade}
    if not wanted:
        return None
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def precision(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    return sum(1 for item in ranked[:k] if grades.get(item, 0) >= 1) / k


def per_need(ranked: Sequence[str], grades: Mapping[str, int]) -> dict[str, float | None]:
    """Every metric for one need (``recall2@10`` is None when the need has no grade-2 judgment)."""
    return {
        "ndcg@5": ndcg(ranked, grades, 5),
        "ndcg@10": ndcg(ranked, grades, 10),
        "mrr": reciprocal_rank(ranked, grades, 10),
        "recall2@10": recall_of_grade(ranked, grades, 2, 10),
        "p@5": precision(ranked, grades, 5),
    }


def mean(values: Sequence[float | None]) -> float:
    present = [value for value in values if value is not None]
    return float(np.mean(present)) if present else float("nan")


def paired_bootstrap(
    first: Sequence[float],
    second: Sequence[float],
    *,
    samples: int = 2000,
    seed: int = 7,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Mean of ``first − second`` over paired per-need values, with a percentile bootstrap interval.

    Returns ``(difference, low, high)``. The needs are resampled with replacement ``samples``
    times; the interval holds the central ``level`` share of the resampled mean differences.
    """
    differences = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    if len(differences) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(differences), size=(samples, len(differences)))
    means = differences[picks].mean(axis=1)
    tail = (1 - level) / 2
    return float(differences.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
