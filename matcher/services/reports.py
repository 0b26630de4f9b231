"""The unmet-needs report for the Conference of the Parties.

An open need (``submitted`` or ``in_review``) is unmet when it has no proposal yet ("not
yet matched", rare now that filing matches at once), when its best proposal (rejected and
closed ones aside) scores below ``threshold`` on the engine's scale ("no good match": the
catalogue lacks a fit), or when no proposal was accepted ``after_days`` after it was filed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.csv_guard import guard_cell
from matcher.services.access import Principal, require_staff
from matcher.store.models import Match, Need, Party, utcnow
from matcher.taxonomy import GENERAL_SECTOR, OPEN_NEED_STATUSES

DECIDED_FOR = ("accepted", "introduced")


@dataclass
class UnmetNeed:
    need: Need
    region: str
    best_score: float | None
    age_days: int
    reasons: tuple[str, ...]

    @property
    def sectors(self) -> list[str]:
        return list(self.need.sectors or self.need.inferred_sectors or [GENERAL_SECTOR])

    @property
    def assistance_types(self) -> list[str]:
        return list(self.need.assistance_types or self.need.inferred_assistance_types or [])


@dataclass
class UnmetReport:
    open_needs: int
    unmet: list[UnmetNeed]
    threshold: float
    after_days: int

    def by_sector_and_region(self) -> Counter[tuple[str, str]]:
        return Counter((sector, item.region) for item in self.unmet for sector in item.sectors)

    def by_assistance_type(self) -> Counter[str]:
        return Counter(code for item in self.unmet for code in item.assistance_types)

    def by_language(self) -> Counter[str]:
        return Counter(item.need.language or "?" for item in self.unmet)

    @property
    def not_yet_matched(self) -> list[UnmetNeed]:
        """Open needs with no proposal at all: with automatic matching these are rare and
        short-lived (a need filed moments ago, an import not matched yet)."""
        return [item for item in self.unmet if "no_match_yet" in item.reasons]

    @property
    def no_good_match(self) -> list[UnmetNeed]:
        """Open needs whose best proposal scores below the threshold: the catalogue lacks a fit."""
        return [item for item in self.unmet if "low_score" in item.reasons]

    @property
    def waiting(self) -> list[UnmetNeed]:
        """Open needs with fitting proposals but none accepted after ``after_days`` days."""
        return [item for item in self.unmet if item.reasons == ("old",)]


def unmet_needs(
    session: Session,
    principal: Principal,
    *,
    threshold: float,
    after_days: int,
    now: dt.datetime | None = None,
) -> UnmetReport:
    require_staff(principal, "read the unmet-needs report")
    now = now or utcnow()
    needs = list(
        session.scalars(select(Need).where(Need.status.in_(OPEN_NEED_STATUSES)).order_by(Need.created_at))
    )
    regions = {iso3: region for iso3, region in session.execute(select(Party.iso3, Party.un_region))}
    matches: dict[str, list[Match]] = {}
    for match in session.scalars(select(Match).where(Match.need_id.in_([need.id for need in needs]))):
        matches.setdefault(match.need_id, []).append(match)
    unmet = []
    for need in needs:
        mine = [match for match in matches.get(need.id, []) if match.state not in ("rejected", "closed")]
        best = max((match.score for match in mine), default=None)
        age = (now - need.created_at).days
        reasons = []
        if best is None:
            reasons.append("no_match_yet")
        elif best < threshold:
            reasons.append("low_score")
        if not any(match.state in DECIDED_FOR for match in mine) and age >= after_days:
            reasons.append("old")
        if reasons:
            unmet.append(UnmetNeed(need, regions.get(need.party_iso3, "?"), best, age, tuple(reasons)))
    return UnmetReport(len(needs), unmet, threshold, after_days)


def as_csv(report: UnmetReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "need_id",
            "party",
            "region",
            "language",
            "sectors",
            "assistance_types",
            "best_score",
            "age_days",
            "reasons",
            "title",
        ]
    )
    for item in report.unmet:
        cells = [
            item.need.id,
            item.need.party_iso3,
            item.region,
            item.need.language or "",
            ";".join(item.sectors),
            ";".join(item.assistance_types),
            "" if item.best_score is None else f"{item.best_score:.4f}",
            item.age_days,
            ";".join(item.reasons),
            item.need.title,
        ]
        # Staff open this file in a spreadsheet: no cell may run as a formula.
        writer.writerow([guard_cell(str(cell)) for cell in cells])
    # A byte-order mark, so spreadsheet programs read the Arabic, Chinese and Russian titles as UTF-8.
    return "\ufeff" + out.getvalue()
