"""Hard constraints applied before ranking.

An offering is a candidate for a Party's need only if it is active, inside its
application window, has capacity left, and is eligible for the Party (regions, country
list, development status). An empty list on the offering means "no restriction".
Unverified offerings stay candidates: the ranker demotes them and flags them.

``failed_constraint`` is the rule, one offering at a time; ``Catalogue.eligible``
(``matcher.engine.catalogue``) applies the same rule to the whole catalogue at once.
"""

from __future__ import annotations

import datetime as dt

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
