"""Small builders for plain engine records: ``make_offering(**overrides)``."""

from __future__ import annotations

from typing import Any

from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile

ALL_REGIONS = ("africa", "asia-pacific", "cee", "grulac", "weog")


def make_party(**overrides: Any) -> PartyProfile:
    values: dict[str, Any] = {"iso3": "KEN", "region": "africa", "status": "developing"}
    values.update(overrides)
    return PartyProfile(**values)


def make_offering(**overrides: Any) -> OfferingProfile:
    values: dict[str, Any] = {
        "id": "offering",
        "provider_id": "org",
        "provider": "Organisation",
        "title": "Programme",
        "description": "Support for mercury work.",
        "sectors": ("waste",),
        "assistance_types": ("training",),
        "regions": ALL_REGIONS,
        "eligible_status": ("developing", "transition"),
    }
    values.update(overrides)
    return OfferingProfile(**values)


def make_need(**overrides: Any) -> NeedProfile:
    values: dict[str, Any] = {
        "id": "need",
        "party": "KEN",
        "title": "Help",
        "description": "We need help with mercury waste.",
        "language": "en",
    }
    values.update(overrides)
    return NeedProfile(**values)
