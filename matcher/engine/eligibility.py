"""Hard constraints applied before ranking.

An offering is a candidate for a Party's need only if it is active, inside its
application window, has capacity left, and is eligible for the Party (regions, country
list, development status). An empty list on the offering means "no restriction".
Unverified offerings stay candidates: the ranker demotes them and flags them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from matcher.engine.domain import OfferingProfile, PartyProfile

# Checked in this order; an offering is counted against the first one it fails.
CONSTRAINTS: tuple[str, ...] = ("active", "application_window", "capacity", "region", "country", "status")


def failed_constraint(offering: OfferingProfile, party: PartyProfile, today: dt.date) -> str | None:
    """The first constraint ``offering`` fails for ``party`` on ``today``, or None."""
    if not offering.active:
        return "active"
    if (offering.opens and today < offering.opens) or (offering.closes and today > offering.closes):
        return "application_window"
    if offering.capacity is not None and offering.capacity <= 0:
        return "capacity"
    if offering.regions and party.region not in offering.regions:
        return "region"
    if offering.countries and party.iso3 not in offering.countries:
        return "country"
    if offering.eligible_status and party.status not in offering.eligible_status:
        return "status"
    return None


@dataclass
class Eligibility:
    """The candidates that passed, and how many offerings each constraint removed."""

    candidates: list[OfferingProfile]
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CONSTRAINTS, 0))

    @property
    def passed(self) -> tuple[str, ...]:
        return CONSTRAINTS


def filter_candidates(
    offerings: Iterable[OfferingProfile], party: PartyProfile, today: dt.date
) -> Eligibility:
    result = Eligibility(candidates=[])
    for offering in offerings:
        reason = failed_constraint(offering, party, today)
        if reason is None:
            result.candidates.append(offering)
        else:
            result.removed[reason] += 1
    return result
