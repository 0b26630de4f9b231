"""History as evidence in the pure engine: served neighbours, region record, rejections, the
track record in explanations, and exactly nothing without history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from matcher.engine.builder import build_history
from matcher.engine.domain import NeedProfile, PartyProfile
from matcher.engine.history import (
    SHRINK,
    Declined,
    History,
    PastNeed,
    reason_kind,
)
from matcher.engine.ranking import RankedOffering, Ranking, RankingEngine
from matcher.engine.weights import RankingWeights
from tests.factories import (
    FAKE_ENCODERS,
    embed,
    fake_vectors,
    make_engine,
    make_need,
    make_offering,
    make_party,
)

TODAY = dt.date(2026, 11, 28)

CATALOG = [
    make_offering(
        id="lamps",
        provider_id="lamp-org",
        title="Lamp recycling",
        description="Collection and recycling of spent fluorescent lamps.",
        sectors=("waste", "products"),
    ),
    make_offering(
        id="agency",
        provider_id="agency-org",
        title="Implementing agency",
        description="A general programme of support for countries.",
        sectors=("waste", "products", "reporting"),
    ),
    make_offering(
        id="fund",
        provider_id="fund-org",
        title="Fund",
        description="Grants for projects.",
        sectors=("waste",),
    ),
]
NEED = make_need(
    id="need-new",
    title="Spent lamps",
    description="Our municipalities collect spent fluorescent lamps and need help with their waste.",
)
TWIN = make_need(
    id="need-past",
    party="UGA",
    title="Spent lamps",
    description="Our cities collect spent fluorescent lamps and need help with their waste.",
)
UGANDA = make_party(iso3="UGA", region="africa")


def past(need: NeedProfile = TWIN, party: PartyProfile = UGANDA, **fields: Any) -> PastNeed:
    return PastNeed(need=need, party=party, country="Uganda", sectors=("waste",), **fields)


def history(*records: PastNeed) -> History:
    return build_history(records, FAKE_ENCODERS, embed)


def rank(engine: RankingEngine, need: NeedProfile = NEED, party: PartyProfile | None = None) -> Ranking:
    query = engine.prepare(need)
    return engine.rank(query, party or make_party(), need_vectors=fake_vectors(query), today=TODAY)


def by_id(ranking: Ranking) -> dict[str, RankedOffering]:
    return {item.offering.id: item for item in ranking.results}


def test_empty_history_adds_exactly_zero() -> None:
    plain = rank(make_engine(CATALOG))
    empty = rank(make_engine(CATALOG, history=History()))
    assert [(r.offering.id, r.score) for r in plain.results] == [
        (r.offering.id, r.score) for r in empty.results
    ]
    for result in plain.results:
        for name in ("history_served", "history_region", "history_rejected"):
            assert result.components[name] == 0.0
        assert "track_record" not in result.explanation
    assert plain.model_version == "hand-set"


def test_an_offering_that_served_a_similar_need_rises_and_shows_its_track_record() -> None:
    engine = make_engine(CATALOG)
    before = by_id(rank(engine))
    after = by_id(rank(engine.with_history(history(past(served=("agency",))))))
    gained = after["agency"].score - before["agency"].score
    assert gained > 0
    served = after["agency"].components["history_served"]
    # One close neighbour: its weight w over (w + SHRINK), times the weight of the component.
    assert 0 < served <= RankingWeights().history_served * 1 / (1 + SHRINK) + 1e-9
    assert after["agency"].components["history_region"] > 0
    assert after["lamps"].score == pytest.approx(before["lamps"].score)
    record = after["agency"].explanation["track_record"]
    assert record["similar_served"] == 1 and record["served"] == 1
    assert record["examples"][0]["country"] == "Uganda"
    assert record["text"].startswith("delivered 1 similar project: ")
    assert "Uganda" in record["text"]


def test_a_distant_past_need_adds_next_to_nothing() -> None:
    unrelated = make_need(
        id="need-far", party="UGA", title="Cement kilns", description="Stack testing at clinker plants."
    )
    engine = make_engine(CATALOG).with_history(history(past(need=unrelated, served=("agency",))))
    assert by_id(rank(engine))["agency"].components["history_served"] == 0


def test_a_need_is_never_evidence_for_itself() -> None:
    own = PastNeed(need=NEED, party=make_party(), served=("agency",))
    result = by_id(rank(make_engine(CATALOG, history=history(own))))["agency"]
    assert result.components["history_served"] == 0
    assert result.components["history_region"] == 0


def test_the_region_record_counts_only_the_partys_region() -> None:
    peru = make_party(iso3="PER", region="grulac")
    engine = make_engine(CATALOG, history=history(past(served=("fund",))))
    assert by_id(rank(engine))["fund"].components["history_region"] > 0
    elsewhere = by_id(rank(engine, party=peru))["fund"]
    assert elsewhere.components["history_region"] == 0


def test_the_region_record_counts_in_the_needs_kind_of_work() -> None:
    cement = make_need(
        id="need-cement",
        party="UGA",
        title="Cement kilns",
        description="Stack emissions of our cement kilns and clinker plants.",
        sectors=("emissions",),
    )
    engine = make_engine(CATALOG, history=history(past(need=cement, served=("fund",))))
    lamps = make_need(id="need-lamps", title="Lamps", description=NEED.description, sectors=("waste",))
    assert by_id(rank(engine, need=lamps))["fund"].components["history_region"] == 0
    kilns = make_need(id="need-kilns", title="Kilns", description="Our cement kilns.", sectors=("emissions",))
    assert by_id(rank(engine, need=kilns))["fund"].components["history_region"] > 0


def test_a_rejection_mildly_demotes_by_its_reason_kind() -> None:
    engine = make_engine(CATALOG)
    base = by_id(rank(engine))["lamps"].score
    not_relevant = engine.with_history(
        history(past(declined=(Declined("lamps", "Not relevant: wrong sector"),)))
    )
    demoted = by_id(rank(not_relevant))["lamps"]
    assert demoted.components["history_rejected"] < 0
    assert -RankingWeights().history_rejected <= demoted.components["history_rejected"]
    assert base - demoted.score < 0.1
    # "not eligible" says something about the other Party only.
    ineligible = engine.with_history(history(past(declined=(Declined("lamps", "Uganda is not eligible"),))))
    assert by_id(rank(ineligible))["lamps"].components["history_rejected"] == 0
    same_party = by_id(rank(ineligible, need=NEED, party=UGANDA))["lamps"]
    assert same_party.components["history_rejected"] < 0


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("Not relevant to the request", "not_relevant"),
        ("hors sujet", "not_relevant"),
        ("The Party is not eligible", "not_eligible"),
        ("Call closed for this year", "unavailable"),
        ("Duplicate of proposal 12", "duplicate"),
        ("The focal point prefers another partner", "other"),
        (None, "other"),
    ],
)
def test_reason_kinds(reason: str | None, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_history_subset_keeps_vectors_aligned() -> None:
    whole = history(past(served=("agency",)), PastNeed(need=NEED, party=make_party(), served=("fund",)))
    kept = whole.subset(lambda record: record.need.id == "need-new")
    assert [record.need.id for record in kept.records] == ["need-new"]
    np.testing.assert_array_equal(kept.vectors[0], whole.vectors[1])
    assert len(whole.subset(lambda record: False)) == 0
