"""Umbrella and member entries: explicit or inferred, and folded under a member that fits."""

from __future__ import annotations

import dataclasses
import datetime as dt

from evaluation.dataset import load_labelled_set
from matcher.engine.umbrellas import folded, members_of
from tests.factories import fake_vectors, make_engine, make_need, make_offering, make_party

TODAY = dt.date(2026, 11, 28)


def test_the_bundled_catalogue_marks_the_partnerships_areas_and_inference_finds_the_same() -> None:
    offerings = load_labelled_set().offerings
    explicit = members_of(offerings)
    assert set(explicit.values()) == {"gmp"}
    assert len(explicit) == 9 and "gmp-coal" in explicit
    # The shared offerings file has no parent field: the relation is inferred, identically.
    stripped = [dataclasses.replace(offering, parent=None) for offering in offerings]
    assert members_of(stripped) == explicit


def test_an_organisation_of_mixed_kinds_has_no_inferred_umbrella() -> None:
    fund = make_offering(
        id="fund", provider_id="gef", provider_kind="financial-mechanism", sectors=("waste", "asgm")
    )
    project = make_offering(id="project", provider_id="gef", provider_kind="gef-agency", sectors=("asgm",))
    assert members_of([fund, project]) == {}
    same_kind = dataclasses.replace(project, provider_kind="financial-mechanism")
    assert members_of([fund, same_kind]) == {"project": "fund"}


def test_an_explicit_parent_wins_over_inference() -> None:
    umbrella = make_offering(id="umbrella", provider_id="p", sectors=("waste", "asgm"))
    area = make_offering(id="area", provider_id="p", sectors=("asgm",), parent="umbrella")
    other = make_offering(id="other", provider_id="p", sectors=("waste",))
    assert members_of([umbrella, area, other]) == {"area": "umbrella"}


def test_folded_needs_a_member_shown() -> None:
    members = {"area": "umbrella"}
    assert folded(["umbrella", "x", "area"], members) == {"umbrella"}
    assert folded(["umbrella", "x"], members) == set()


def test_an_umbrella_is_folded_under_its_member_as_context() -> None:
    umbrella = make_offering(
        id="partnership",
        provider_id="partners",
        provider_kind="partnership",
        title="Mercury partnership",
        description="A partnership on every mercury topic: waste, mining, lamps and more.",
        sectors=("waste", "asgm", "products"),
    )
    area = make_offering(
        id="partnership-waste",
        provider_id="partners",
        provider_kind="partnership",
        title="Partnership area: mercury waste",
        description="Guidance on mercury waste collection and storage.",
        sectors=("waste",),
    )
    other = make_offering(
        id="other", provider_id="x", title="Other", description="Mining support.", sectors=("asgm",)
    )
    engine = make_engine([umbrella, area, other])
    need = make_need(title="Mercury waste", description="We need help to collect and store mercury waste.")
    query = engine.prepare(need)
    ranking = engine.rank(query, make_party(), need_vectors=fake_vectors(query), today=TODAY)
    ids = [result.offering.id for result in ranking.results]
    assert "partnership" not in ids and "partnership-waste" in ids
    member = next(result for result in ranking.results if result.offering.id == "partnership-waste")
    assert member.explanation["part_of"] == {
        "offering_id": "partnership",
        "title": "Mercury partnership",
        "folded": True,
    }
    # Without a member among the results the umbrella is proposed as usual.
    alone = make_engine([umbrella, other])
    query = alone.prepare(need)
    ranking = alone.rank(query, make_party(), need_vectors=fake_vectors(query), today=TODAY)
    assert "partnership" in [result.offering.id for result in ranking.results]
