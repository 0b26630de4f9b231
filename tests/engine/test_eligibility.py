"""Each hard constraint removes exactly what it should, and is counted."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from matcher.engine.catalogue import Catalogue
from matcher.engine.codes import CodeSpace
from matcher.engine.domain import OfferingProfile, PartyProfile
from matcher.engine.eligibility import CONSTRAINTS, failed_constraint
from matcher.engine.text.tagging import KeywordTagger
from matcher.taxonomy import load_taxonomy
from tests.factories import make_offering, make_party

TODAY = dt.date(2026, 11, 28)


def one_by_one(
    offerings: Sequence[OfferingProfile], party: PartyProfile, today: dt.date
) -> tuple[list[str], dict[str, int]]:
    """The reference: ``failed_constraint`` per offering, removals counted by first failure."""
    kept, removed = [], dict.fromkeys(CONSTRAINTS, 0)
    for offering in offerings:
        reason = failed_constraint(offering, party, today)
        if reason is None:
            kept.append(offering.id)
        else:
            removed[reason] += 1
    return kept, removed


def catalogue(offerings: Sequence[OfferingProfile]) -> Catalogue:
    taxonomy = load_taxonomy()
    return Catalogue(offerings, taxonomy=taxonomy, tagger=KeywordTagger(taxonomy), codes=CodeSpace(taxonomy))


def test_an_open_matching_offering_passes() -> None:
    assert failed_constraint(make_offering(), make_party(), TODAY) is None


def test_each_constraint_excludes_its_case() -> None:
    party = make_party(iso3="KEN", region="africa", status="developing")
    cases = {
        "active": make_offering(active=False),
        "application_window": make_offering(opens=dt.date(2027, 1, 1)),
        "capacity": make_offering(capacity=0),
        "region": make_offering(regions=("grulac",)),
        "country": make_offering(countries=("TZA", "UGA")),
        "status": make_offering(eligible_status=("transition",)),
    }
    assert set(cases) == set(CONSTRAINTS)
    for constraint, offering in cases.items():
        assert failed_constraint(offering, party, TODAY) == constraint


def test_window_bounds_are_inclusive_and_empty_lists_do_not_restrict() -> None:
    party = make_party()
    assert failed_constraint(make_offering(opens=TODAY, closes=TODAY), party, TODAY) is None
    assert (
        failed_constraint(make_offering(closes=TODAY - dt.timedelta(days=1)), party, TODAY)
        == "application_window"
    )
    unrestricted = make_offering(regions=(), countries=(), eligible_status=())
    assert failed_constraint(unrestricted, party, TODAY) is None
    assert failed_constraint(make_offering(countries=("KEN",)), party, TODAY) is None


def test_unverified_offerings_stay_candidates() -> None:
    assert failed_constraint(make_offering(verified=False), make_party(), TODAY) is None


def test_removals_are_counted_by_first_failed_constraint() -> None:
    offerings = [
        make_offering(id="ok"),
        make_offering(id="closed", active=False, regions=("weog",)),  # counted once, as inactive
        make_offering(id="elsewhere", regions=("weog",)),
        make_offering(id="developed-only", eligible_status=("developed",)),
    ]
    rows, removed = catalogue(offerings).eligible(make_party(), TODAY)
    assert [offerings[row].id for row in rows] == ["ok"]
    assert removed == {
        "active": 1,
        "application_window": 0,
        "capacity": 0,
        "region": 1,
        "country": 0,
        "status": 1,
    }
    assert one_by_one(offerings, make_party(), TODAY) == (["ok"], removed)


def test_the_catalogue_s_vectorised_filter_agrees_with_the_rule() -> None:
    """``Catalogue.eligible`` (numpy over the catalogue) must keep exactly the offerings
    ``failed_constraint`` (one offering at a time) keeps, and count removals alike."""
    chooser = random.Random(5)
    regions = ["africa", "asia-pacific", "cee", "grulac", "weog"]
    offerings = []
    for number in range(300):
        offerings.append(
            make_offering(
                id=f"o-{number:03d}",
                active=chooser.random() > 0.1,
                regions=tuple(chooser.sample(regions, chooser.randint(0, 3))),
                countries=tuple(chooser.sample(["KEN", "PER", "FJI", "NER"], chooser.randint(0, 2))),
                eligible_status=tuple(
                    chooser.sample(["developing", "transition", "developed"], chooser.randint(0, 2))
                ),
                opens=dt.date(2026, 1, 1) if chooser.random() < 0.2 else None,
                closes=dt.date(2026, 6, 30) if chooser.random() < 0.2 else None,
                capacity=chooser.choice([None, None, 0, 3]),
            )
        )
    columns = catalogue(offerings)
    for party in (
        make_party(iso3="KEN", region="africa", status="developing"),
        make_party(iso3="PER", region="grulac", status="transition"),
        make_party(iso3="FRA", region="weog", status="developed"),
    ):
        for today in (dt.date(2026, 3, 1), dt.date(2026, 11, 28)):
            rows, removed = columns.eligible(party, today)
            assert ([offerings[row].id for row in rows], removed) == one_by_one(offerings, party, today)
