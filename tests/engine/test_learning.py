"""The learned re-ranker: cases, position weights, groups, and the promotion rule both ways."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from matcher.engine.builder import build_history
from matcher.engine.domain import OfferingProfile
from matcher.engine.history import History, PastNeed
from matcher.engine.learning import (
    MIN_GROUPS,
    Candidate,
    Comparison,
    TrainingCase,
    case_groups,
    cross_validate,
    ndcg_at,
    should_promote,
)
from matcher.engine.ranking import RankingEngine
from matcher.engine.reranker import LinearReranker, reorder
from tests.factories import (
    FAKE_ENCODERS,
    embed,
    fake_vectors,
    make_engine,
    make_need,
    make_offering,
    make_party,
)

TOPICS = {
    "waste": "collection and storage of mercury waste from hospitals",
    "mining": "artisanal gold mining with mercury retorts",
    "lamps": "recycling of fluorescent lamps containing mercury",
    "dental": "dental amalgam separators for clinics",
    "cement": "stack emissions of cement kilns",
    "coal": "mercury emissions of coal power plants",
}


def topic_catalogue() -> list[OfferingProfile]:
    """Per topic, a verified generalist and an unverified specialist describing the same work:
    the hand-set weights always put the verified one first (the unverified demotion)."""
    offerings = []
    for topic, text in TOPICS.items():
        for kind, verified in (("general", True), ("specialist", False)):
            offerings.append(
                make_offering(
                    id=f"{topic}-{kind}",
                    provider_id=f"{topic}-{kind}-org",
                    title=f"{topic} programme",
                    description=f"Support for {text}.",
                    verified=verified,
                )
            )
    return offerings


def topic_history(served_kind: str) -> History:
    records = [
        PastNeed(
            need=make_need(
                id=f"past-{topic}-{n}", title=topic, description=f"We need help with {text}. Case {n}."
            ),
            party=make_party(),
            served=(f"{topic}-{served_kind}",),
        )
        for topic, text in TOPICS.items()
        for n in (1, 2)
    ]
    return build_history(records, FAKE_ENCODERS, embed)


def groups_by_topic(history: History) -> dict[str, str]:
    return {record.need.id: record.need.title for record in history.records}


def learn(engine: RankingEngine, history: History) -> Comparison:
    return cross_validate(engine, history, fake_vectors, groups_by_topic(history))


def test_a_model_that_beats_the_hand_set_weights_on_held_out_groups_is_promoted() -> None:
    # The programmes that delivered are the unverified specialists, which the hand-set
    # weights demote: a model trained on the other topics learns it.
    comparison = learn(make_engine(topic_catalogue()), topic_history("specialist"))
    assert comparison.group_count == len(TOPICS)
    difference, low, _ = comparison.interval()
    assert difference > 0 and low > 0
    promote, reason = should_promote(comparison)
    assert promote, reason
    assert reason.startswith("beats the hand-set weights")


def test_a_model_no_better_than_the_hand_set_weights_is_refused() -> None:
    # The hand-set weights already put the programmes that delivered first: nothing to gain.
    comparison = learn(make_engine(topic_catalogue()), topic_history("general"))
    difference, low, _ = comparison.interval()
    assert difference <= 0 and low <= 0
    promote, reason = should_promote(comparison)
    assert not promote
    assert reason.startswith("does not beat the hand-set weights")


def synthetic(differences: Sequence[float], groups: int) -> Comparison:
    comparison = Comparison()
    for index, difference in enumerate(differences):
        need = f"n{index}"
        comparison.hand[need] = 0.5
        comparison.model[need] = 0.5 + difference
        comparison.groups[need] = f"g{index % groups}"
    return comparison


@pytest.mark.parametrize(
    ("differences", "groups", "promoted"),
    [
        ([0.2, 0.3, 0.25, 0.2, 0.3, 0.2, 0.25, 0.3], 8, True),
        ([-0.2, -0.3, -0.25, -0.2, -0.3, -0.2, -0.25, -0.3], 8, False),  # worse
        ([0.3, -0.3, 0.2, -0.25, 0.3, -0.3, 0.25, -0.2], 8, False),  # no clear gain
        ([0.2, 0.3, 0.25], 3, False),  # too few held-out groups to judge
    ],
)
def test_the_promotion_rule(differences: list[float], groups: int, promoted: bool) -> None:
    assert should_promote(synthetic(differences, groups))[0] is promoted
    assert MIN_GROUPS == 4


def test_decided_proposals_weigh_by_the_rank_they_were_shown_at() -> None:
    candidates = tuple(Candidate(name, {"dense_multilingual": 0.1}) for name in ("a", "b", "c", "d"))
    decided = TrainingCase(
        "n", "g", candidates, frozenset({"c"}), frozenset({"a"}), shown_at={"a": 1, "c": 3}
    )
    assert [(c.offering_id, label, weight) for c, label, weight in decided.labelled()] == [
        ("a", 0, 1.0),
        ("c", 1, 3.0),
    ]  # b and d were never judged
    imported = TrainingCase("n", "g", candidates, frozenset({"c"}))
    assert [(c.offering_id, label, weight) for c, label, weight in imported.labelled()] == [
        ("a", 0, 1.0),
        ("b", 0, 1.0),
        ("c", 1, 1.0),
        ("d", 0, 1.0),
    ]


def test_case_groups_join_the_same_delivery_and_near_twins() -> None:
    records = [
        PastNeed(need=make_need(id="a", description="Mercury waste from hospitals."), served=("x", "y")),
        PastNeed(need=make_need(id="b", description="Artisanal gold mining."), served=("y", "x")),
        PastNeed(need=make_need(id="c", description="Artisanal gold mining."), served=("z",)),
        PastNeed(need=make_need(id="d", description="Cement kilns and coal plants."), served=("z", "x")),
    ]
    groups = case_groups(build_history(records, FAKE_ENCODERS, embed))
    assert groups["a"] == groups["b"] == groups["c"]  # same delivery; then b and c are twins
    assert groups["d"] != groups["a"]


def test_the_reranker_orders_the_head_only_and_keeps_the_hand_set_scores() -> None:
    engine = make_engine(topic_catalogue())
    model = LinearReranker("model-1", ("unverified",), (0.0,), (1.0,), (-1.0,), depth=2)
    with_model = engine.with_history(History(), model)
    need = make_need(title="waste", description=f"We need help with {TOPICS['waste']}.")
    query = engine.prepare(need)
    plain = engine.rank(query, make_party(), need_vectors=fake_vectors(query))
    ordered = with_model.rank(query, make_party(), need_vectors=fake_vectors(query))
    assert [r.offering.id for r in plain.results[:2]] == ["waste-general", "waste-specialist"]
    assert [r.offering.id for r in ordered.results[:2]] == ["waste-specialist", "waste-general"]
    assert {r.offering.id: r.score for r in ordered.results} == {
        r.offering.id: r.score for r in plain.results
    }
    assert ordered.model_version == "model-1"
    assert ordered.results[0].explanation["model"]["version"] == "model-1"
    assert reorder(plain.results, None) == plain.results


def test_binary_ndcg() -> None:
    assert ndcg_at(["a", "b"], frozenset({"a"})) == 1.0
    assert ndcg_at(["b", "a"], frozenset({"a"})) == pytest.approx(1 / 1.584962500721156)
    assert ndcg_at(["b"], frozenset()) == 0.0
    assert LinearReranker.from_parameters(
        "m", LinearReranker("m", ("x",), (1.0,), (2.0,), (3.0,)).parameters()
    )
