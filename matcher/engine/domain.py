"""Plain, immutable records the ranking engine works on.

The engine never sees ORM objects, sessions or settings: callers (the CLI, the API
services, the evaluation harness) turn their rows into these records first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PartyProfile:
    iso3: str
    region: str
    status: str
    ldc: bool = False
    sids: bool = False


@dataclass(frozen=True)
class OfferingProfile:
    id: str
    provider_id: str
    provider: str
    title: str
    description: str
    provider_kind: str | None = None
    sectors: tuple[str, ...] = ()
    assistance_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    eligible_status: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    funding_min_usd: float | None = None
    funding_max_usd: float | None = None
    verified: bool = True
    active: bool = True
    opens: dt.date | None = None
    closes: dt.date | None = None
    capacity: int | None = None
    parent: str | None = None  # the umbrella entry this programme or area belongs to

    @property
    def text(self) -> str:
        """The text that represents the offering for retrieval."""
        return f"{self.title}. {self.provider}. {self.description}"

    @classmethod
    def from_record(cls, record: Any) -> OfferingProfile:
        """From an ORM row, a pydantic row or any object with the interchange field names."""
        return cls(
            id=record.id,
            provider_id=record.provider_id,
            provider=record.provider,
            title=record.title,
            description=record.description,
            provider_kind=record.provider_kind,
            sectors=tuple(record.sectors or ()),
            assistance_types=tuple(record.assistance_types or ()),
            regions=tuple(record.regions or ()),
            countries=tuple(record.countries or ()),
            eligible_status=tuple(record.eligible_status or ()),
            languages=tuple(record.languages or ()),
            funding_min_usd=record.funding_min_usd,
            funding_max_usd=record.funding_max_usd,
            verified=bool(record.verified),
            active=bool(record.active),
            opens=record.opens,
            closes=record.closes,
            capacity=record.capacity,
            parent=getattr(record, "parent", None),
        )


@dataclass(frozen=True)
class NeedProfile:
    id: str
    party: str
    title: str
    description: str
    language: str | None = None
    sectors: tuple[str, ...] = ()
    assistance_types: tuple[str, ...] = ()
    inferred_sectors: tuple[str, ...] = ()
    inferred_assistance_types: tuple[str, ...] = ()
    budget_usd: float | None = None

    @property
    def text(self) -> str:
        return f"{self.title}. {self.description}"
