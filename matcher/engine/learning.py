"""Training a re-ranker on history and decisions, and the rule that decides whether it ships.

A case is one past need ranked as it would be served today (its own case group left out of
the history, so its own record never explains itself), with its head (``DEPTH`` results,
hand-set order) and the offerings judged in it:

* imported records (``served_by``): the offerings that delivered are positives and every
  other offering of the head a negative; no ranking produced them, so they carry no position
  bias and weigh 1;
* decisions of the review workflow: accepted and introduced proposals are positives,
  rejected ones negatives, undecided ones unknown (left out). Proposals are judged at the
  rank they were shown (``Match.rank``): under the usual examination model a proposal at
  rank r is looked at with probability ∝ 1/r, so each decided proposal weighs min(r,
  ``IPS_CAP``) (inverse propensity; the cap keeps one deep decision from dominating).

The model is a logistic regression over the score's components (history components
included), standardised. ``cross_validate`` trains it leaving case groups out (one fold per
group, at most ``MAX_FOLDS`` folds; the held-out groups' records are left out of the
history the training cases are ranked with, too) and compares, on each held-out group's
needs, its order with the hand-set order (nDCG@10, delivered offerings as relevant);
``should_promote`` promotes only when the lower end of the 95% interval of the difference
(bootstrap over groups, since needs of one group are near-twins) is above zero, over at
least ``MIN_GROUPS`` groups.

Case groups of the store's history are not recorded; ``case_groups`` joins past needs
served by exactly the same offerings or whose texts are near-twins (cosine ≥
``TWIN_SIMILARITY``). On the dev history it finds 15 groups among the 50 served needs where
``dev_groups.json`` has 13: it never joins two cases, and splits one (the planetGOLD
project's eight needs, served by different agencies, fall into three). Lower thresholds
joined unrelated cases (0.75 joined planetGOLD with a solo case; 0.7 joined six Caribbean
and African cases).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.engine.history import History, PastNeed
from matcher.engine.query import NeedQuery
from matcher.engine.ranking import RankingEngine
from matcher.engine.reranker import DEPTH, LinearReranker

IPS_CAP = 10
MIN_GROUPS = 4
MAX_FOLDS = 20
TWIN_SIMILARITY = 0.8
REGULARISATION = 0.1  # sklearn's C: strong, with so few independent cases
SAMPLES = 2000
LEVEL = 0.95
LEFT_OUT = ("provider_repeat",)  # a diversity adjustment, not evidence

NeedVectors = Callable[[NeedQuery], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Candidate:
    offering_id: str
    components: Mapping[str, float]


@dataclass(frozen=True)
class TrainingCase:
    """One past need's head (hand-set order) and its judged offerings."""

    need_id: str
    group: str
    candidates: tuple[Candidate, ...]
    positives: frozenset[str]
    negatives: frozenset[str] = frozenset()
    shown_at: Mapping[str, int] = field(default_factory=dict)

    @property
    def imported(self) -> bool:
        """An imported record: no ranking showed it, every offering not served is a negative."""
        return not self.shown_at

    def labelled(self) -> list[tuple[Candidate, int, float]]:
        """(candidate, label, weight) for every candidate with a label."""
        rows = []
        for candidate in self.candidates:
            if candidate.offering_id in self.positives:
                label = 1
            elif candidate.offering_id in self.negatives or self.imported:
                label = 0
            else:
                continue
            rank = self.shown_at.get(candidate.offering_id)
            rows.append((candidate, label, float(min(rank, IPS_CAP)) if rank else 1.0))
        return rows


def case_groups(history: History) -> dict[str, str]:
    """Past need id → case group: needs served by exactly the same (non-empty) set of
    offerings, or whose texts are near-twins, share a group (transitively)."""
    records = history.records
    parent = list(range(len(records)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    def join(first: int, second: int) -> None:
        parent[root(first)] = root(second)

    first_with: dict[frozenset[str], int] = {}
    for index, record in enumerate(records):
        served = frozenset(record.served)
        if served:
            if served in first_with:
                join(index, first_with[served])
            else:
                first_with[served] = index
    if len(records) > 1:
        similarity = history.vectors @ history.vectors.T
        for first, second in zip(*np.nonzero(np.triu(similarity >= TWIN_SIMILARITY, k=1)), strict=True):
            join(int(first), int(second))
    return {record.need.id: f"case-{root(index)}" for index, record in enumerate(records)}


def build_cases(
    engine: RankingEngine,
    history: History,
    need_vectors: NeedVectors,
    groups: Mapping[str, str],
    *,
    today: dt.date | None = None,
) -> list[TrainingCase]:
    """Every judged past need of ``history`` as a case: ranked by ``engine`` (hand-set
    order, no re-ranker) with the history of the other case groups only."""
    cases = []
    by_group: dict[str, list[PastNeed]] = {}
    for record in history.records:
        by_group.setdefault(groups.get(record.need.id, record.need.id), []).append(record)
    for group, records in sorted(by_group.items()):
        ranker = engine.with_history(history.subset(_outside(groups, group)))
        cases.extend(_cases(ranker, engine, records, need_vectors, groups, today))
    return cases


def _cases(
    ranker: RankingEngine,
    engine: RankingEngine,
    records: Sequence[PastNeed],
    need_vectors: NeedVectors,
    groups: Mapping[str, str],
    today: dt.date | None,
) -> list[TrainingCase]:
    """``records`` (the judged ones) ranked by ``ranker`` (hand-set order) as cases."""
    cases = []
    for record in records:
        if record.party is None or not (record.served or record.declined):
            continue
        query = engine.prepare(record.need)
        ranking = ranker.rank(query, record.party, need_vectors=need_vectors(query), k=DEPTH, today=today)
        cases.append(
            TrainingCase(
                need_id=record.need.id,
                group=groups.get(record.need.id, record.need.id),
                candidates=tuple(
                    Candidate(item.offering.id, dict(item.components)) for item in ranking.results
                ),
                positives=frozenset(record.served),
                negatives=frozenset(item.offering_id for item in record.declined),
                shown_at=dict(record.shown_at),
            )
        )
    return cases


def _outside(groups: Mapping[str, str], group: str) -> Callable[[PastNeed], bool]:
    return lambda record: groups.get(record.need.id, record.need.id) != group


def features_of(cases: Sequence[TrainingCase]) -> tuple[str, ...]:
    names = {name for case in cases for candidate in case.candidates for name in candidate.components}
    return tuple(sorted(names - set(LEFT_OUT)))


def fit(
    cases: Sequence[TrainingCase], *, version: str = "candidate", regularisation: float = REGULARISATION
) -> LinearReranker | None:
    """A logistic regression over the cases' labelled candidates, or None when the labels
    are all of one class (nothing to learn)."""
    from sklearn.linear_model import LogisticRegression

    features = features_of(cases)
    rows = [row for case in cases for row in case.labelled()]
    labels = np.array([label for _, label, _ in rows])
    if not features or len(set(labels.tolist())) < 2:
        return None
    matrix = np.array(
        [[candidate.components.get(name, 0.0) for name in features] for candidate, _, _ in rows]
    )
    weights = np.array([weight for _, _, weight in rows])
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales[scales <= 1e-12] = 1.0
    model = LogisticRegression(C=regularisation, max_iter=2000)
    model.fit((matrix - means) / scales, labels, sample_weight=weights / weights.mean())
    return LinearReranker(
        version=version,
        features=features,
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        coefficients=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
    )


def ndcg_at(ranked: Sequence[str], relevant: frozenset[str], k: int = 10) -> float:
    """Binary nDCG@k (gain 1 for a relevant offering)."""
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal if ideal > 0 else 0.0


def model_order(case: TrainingCase, model: LinearReranker | None) -> list[str]:
    if model is None:
        return [candidate.offering_id for candidate in case.candidates]
    ordered = sorted(case.candidates, key=lambda c: (-model.value(c.components), c.offering_id))
    return [candidate.offering_id for candidate in ordered]


@dataclass
class Comparison:
    """Per held-out need: nDCG@10 of the model's order and of the hand-set order."""

    model: dict[str, float] = field(default_factory=dict)
    hand: dict[str, float] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def needs(self) -> int:
        return len(self.model)

    @property
    def group_count(self) -> int:
        return len(set(self.groups.values()))

    def interval(
        self, samples: int = SAMPLES, seed: int = 7, level: float = LEVEL
    ) -> tuple[float, float, float]:
        """Mean of model − hand over the needs, and its bootstrap interval resampling groups."""
        if not self.model:
            return math.nan, math.nan, math.nan
        by_group: dict[str, list[float]] = {}
        for need_id, value in self.model.items():
            by_group.setdefault(self.groups[need_id], []).append(value - self.hand[need_id])
        blocks = list(by_group.values())
        mean = float(np.mean([d for block in blocks for d in block]))
        rng = np.random.default_rng(seed)
        means = []
        for _ in range(samples):
            picked = rng.integers(0, len(blocks), size=len(blocks))
            means.append(np.mean([d for index in picked for d in blocks[index]]))
        tail = (1 - level) / 2
        return mean, float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))

    def as_dict(self) -> dict[str, Any]:
        difference, low, high = self.interval()
        return {
            "needs": self.needs,
            "groups": self.group_count,
            "model_ndcg10": round(float(np.mean(list(self.model.values()))), 4) if self.model else None,
            "hand_ndcg10": round(float(np.mean(list(self.hand.values()))), 4) if self.hand else None,
            "difference": None if math.isnan(difference) else round(difference, 4),
            "interval": None if math.isnan(low) else [round(low, 4), round(high, 4)],
            "level": LEVEL,
        }


def folds(groups: Mapping[str, str], records: Sequence[PastNeed]) -> dict[str, int]:
    """Case group → fold: one fold per group, or ``MAX_FOLDS`` folds of whole groups (dealt
    in name order) when there are more groups, so that training costs at most
    ``MAX_FOLDS`` × (past needs) rankings."""
    names = sorted({groups.get(record.need.id, record.need.id) for record in records})
    return {name: index % MAX_FOLDS for index, name in enumerate(names)}


@dataclass
class Fold:
    """One held-out fold: the history the model may see, the model trained on it (None when
    there was nothing to learn) and the held-out fold's cases, ranked with that history."""

    visible: History
    model: LinearReranker | None
    held_out: list[TrainingCase]


def fold_models(
    engine: RankingEngine,
    history: History,
    need_vectors: NeedVectors,
    groups: Mapping[str, str],
    *,
    today: dt.date | None = None,
    regularisation: float = REGULARISATION,
) -> dict[int, Fold]:
    """For each fold: train on the other folds' cases, their features computed from the
    other folds' history only (nothing of the held-out cases leaks into training, not even
    through the history evidence), and rank the held-out cases with that same history."""
    assigned = folds(groups, history.records)

    def fold_of(record: PastNeed) -> int:
        return assigned[groups.get(record.need.id, record.need.id)]

    def outside(fold: int) -> Callable[[PastNeed], bool]:
        return lambda record: fold_of(record) != fold

    result = {}
    for fold in sorted(set(assigned.values())):
        visible = history.subset(outside(fold))
        training = build_cases(engine, visible, need_vectors, groups, today=today)
        model = fit(training, regularisation=regularisation)
        held_out = [record for record in history.records if fold_of(record) == fold]
        result[fold] = Fold(
            visible,
            model,
            _cases(engine.with_history(visible), engine, held_out, need_vectors, groups, today),
        )
    return result


def cross_validate(
    engine: RankingEngine,
    history: History,
    need_vectors: NeedVectors,
    groups: Mapping[str, str],
    *,
    today: dt.date | None = None,
    regularisation: float = REGULARISATION,
) -> Comparison:
    """Leave case groups out (``fold_models``) and compare the model with the hand-set order
    on the held-out needs (``compare``)."""
    return compare(
        fold_models(engine, history, need_vectors, groups, today=today, regularisation=regularisation)
    )


def compare(trained: Mapping[int, Fold]) -> Comparison:
    """On each held-out need with a delivered offering in its head: nDCG@10 of the fold's
    model's order and of the hand-set order."""
    comparison = Comparison()
    for fold in trained.values():
        for case in fold.held_out:
            if not case.positives & {candidate.offering_id for candidate in case.candidates}:
                continue
            hand = [candidate.offering_id for candidate in case.candidates]
            comparison.model[case.need_id] = ndcg_at(model_order(case, fold.model), case.positives)
            comparison.hand[case.need_id] = ndcg_at(hand, case.positives)
            comparison.groups[case.need_id] = case.group
    return comparison


def should_promote(comparison: Comparison) -> tuple[bool, str]:
    """The promotion rule: promote only a model whose held-out nDCG@10 beats the hand-set
    weights' with the whole 95% interval above zero, over at least ``MIN_GROUPS`` groups."""
    if comparison.group_count < MIN_GROUPS:
        return False, (
            f"only {comparison.group_count} held-out case group(s) with a delivered offering in the "
            f"head; at least {MIN_GROUPS} are needed to judge a model"
        )
    difference, low, high = comparison.interval()
    summary = f"model − hand-set nDCG@10 {difference:+.3f} [{low:+.3f}, {high:+.3f}] over {comparison.group_count} groups"
    if low > 0:
        return True, f"beats the hand-set weights on held-out case groups: {summary}"
    return False, f"does not beat the hand-set weights on held-out case groups: {summary}"
