"""Import and export of the interchange format (JSON Lines or CSV).

An import is all-or-nothing across every file of one call: all rows are read and
validated first, every problem is collected as ``FILE:LINE: field: message``, and
only a clean batch is written, in one transaction. Rows are upserted by id, so a
second load of the same files changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from catalog.files import HistorySource, RawRow, RowError, SourceRow, read_history, read_sources
from catalog.files import ImportRejected as ImportRejected  # re-exported: callers import it from here
from catalog.files import format_records as format_records  # re-exported for `matcher catalog export`
from catalog.rows import (
    HistoryRow,
    Kind,
    NeedRow,
    OfferingRow,
    PartyRow,
    slugify,
)
from matcher.engine.history import IMPORTED
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, Match, Need, Offering, Party, Provider, utcnow
from matcher.taxonomy import bundled_catalog_dir

logger = logging.getLogger(__name__)


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"

    @property
    def changed(self) -> int:
        return self.created + self.updated


@dataclass
class ImportReport:
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    ignored_fields: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{entity}: {counts}" for entity, counts in self.counts.items()]

    @property
    def changed(self) -> bool:
        return any(counts.changed for counts in self.counts.values())


def bundled_catalog_files() -> list[Path]:
    folder = bundled_catalog_dir()
    return [folder / "parties.csv", folder / "offerings.jsonl"]


# --------------------------------------------------------------------------- reading


def check_across_rows(session: Session, rows: Sequence[RawRow]) -> list[RowError]:
    """Checks that need other rows: duplicate ids within the batch, unknown parties
    (of needs) and unknown countries (of offerings), against the database and the batch."""
    errors: list[RowError] = []
    first_seen: dict[tuple[Kind, str], RawRow] = {}
    for raw in rows:
        id_field = "iso3" if raw.kind == "parties" else "id"
        row_id = raw.text(id_field, upper=raw.kind == "parties")
        if row_id is None:
            continue
        key = (raw.kind, row_id)
        if key in first_seen:
            earlier = first_seen[key]
            errors.append(
                RowError(
                    raw.file,
                    raw.line,
                    id_field,
                    f"duplicate id {row_id!r} (first at {earlier.file}:{earlier.line})",
                )
            )
        else:
            first_seen[key] = raw
    errors.extend(_check_parents(session, rows))
    known_parties = set(session.scalars(select(Party.iso3)))
    known_parties.update(key[1] for key in first_seen if key[0] == "parties")
    for raw in rows:
        party = raw.text("party", upper=True) if raw.kind == "needs" else None
        if party is not None and party not in known_parties:
            errors.append(
                RowError(raw.file, raw.line, "party", f"unknown party {party!r} (not in the party list)")
            )
        countries = raw.data.get("countries") if raw.kind == "offerings" else None
        if isinstance(countries, list):
            unknown = [str(code) for code in countries if str(code).strip().upper() not in known_parties]
            if unknown:
                errors.append(
                    RowError(raw.file, raw.line, "countries", f"unknown party code(s) {', '.join(unknown)}")
                )
    return errors


def _check_parents(session: Session, rows: Sequence[RawRow]) -> list[RowError]:
    """An offering's ``parent`` names an offering of the batch or the database that names
    no parent itself (umbrella and members: one level)."""
    parents: dict[str, str | None] = {
        offering_id: parent for offering_id, parent in session.execute(select(Offering.id, Offering.parent))
    }
    for raw in rows:
        if raw.kind == "offerings" and raw.text("id") is not None:
            parents[str(raw.text("id"))] = raw.text("parent")
    errors = []
    for raw in rows:
        parent = raw.text("parent") if raw.kind == "offerings" else None
        if parent is None:
            continue
        if parent not in parents:
            errors.append(RowError(raw.file, raw.line, "parent", f"unknown offering {parent!r}"))
        elif parents[parent] is not None:
            errors.append(
                RowError(
                    raw.file,
                    raw.line,
                    "parent",
                    f"{parent!r} names a parent itself ({parents[parent]!r}); an umbrella has no parent",
                )
            )
    return errors


# --------------------------------------------------------------------------- writing


def _party_values(row: PartyRow) -> dict[str, Any]:
    return row.model_dump()


def _offering_values(row: OfferingRow) -> dict[str, Any]:
    """The offering's own columns (``provider_email`` belongs to the provider)."""
    return row.model_dump(exclude={"provider_email"})


def _need_values(row: NeedRow) -> dict[str, Any]:
    """The row's columns, plus what is understood of its text: the language when the row
    has none (detected), and the codes it implies that it does not state (inferred)."""
    from matcher.engine.challenges import assess_statement
    from matcher.engine.domain import NeedProfile
    from matcher.engine.understanding import default_reader

    values = row.model_dump()
    values["party_iso3"] = values.pop("party")
    reader = default_reader()
    reading = reader.read(row.title, row.description, row.language, row.sectors, row.assistance_types)
    values["language"] = reading.language
    values["inferred_sectors"] = list(reading.inferred_sectors)
    values["inferred_assistance_types"] = list(reading.inferred_assistance_types)
    profile = NeedProfile(
        id=row.id,
        party=row.party,
        title=row.title,
        description=row.description,
        language=reading.language,
        sectors=tuple(row.sectors),
        assistance_types=tuple(row.assistance_types),
        inferred_sectors=reading.inferred_sectors,
        inferred_assistance_types=reading.inferred_assistance_types,
        budget_usd=row.budget_usd,
    )
    values["vague"], challenge = assess_statement(reader, profile, reading)
    values["challenge_kind"] = challenge.kind
    return values


def _upsert(
    session: Session, model: type[Any], key: str, values: dict[str, Any], counts: EntityCounts
) -> Any:
    existing = session.get(model, key)
    if existing is None:
        instance = model(**values)
        session.add(instance)
        counts.created += 1
        return instance
    if all(getattr(existing, column) == value for column, value in values.items()):
        counts.unchanged += 1
        return existing
    for column, value in values.items():
        setattr(existing, column, value)
    counts.updated += 1
    return existing


def import_rows(session: Session, rows: Sequence[SourceRow], actor: str = "cli") -> ImportReport:
    """Write validated ``rows`` (checked by ``check_across_rows``) in the caller's transaction."""
    report = ImportReport()
    # Parties first, then offerings (and their providers), then needs, which refer to parties.
    parties = [source.row for source in rows if isinstance(source.row, PartyRow)]
    offerings = [source.row for source in rows if isinstance(source.row, OfferingRow)]
    needs = [source.row for source in rows if isinstance(source.row, NeedRow)]
    if parties:
        counts = report.counts.setdefault("parties", EntityCounts())
        for party in parties:
            _upsert(session, Party, party.iso3, _party_values(party), counts)
        session.flush()
    if offerings:
        provider_counts = report.counts.setdefault("providers", EntityCounts())
        offering_counts = report.counts.setdefault("offerings", EntityCounts())
        # The last non-empty provider_email of the batch is the provider's address.
        emails = {
            offering.provider_id or slugify(offering.provider): offering.provider_email
            for offering in offerings
            if offering.provider_email
        }
        seen_providers: set[str] = set()
        for offering in offerings:
            provider_id = offering.provider_id or slugify(offering.provider)  # the row's validator fills it
            if provider_id not in seen_providers:
                seen_providers.add(provider_id)
                existing = session.get(Provider, provider_id)
                if existing is None:
                    # The first display text seen names the organisation; later rows keep their own text.
                    session.add(
                        Provider(
                            provider_id=provider_id, name=offering.provider, email=emails.get(provider_id)
                        )
                    )
                    provider_counts.created += 1
                elif provider_id in emails and existing.email != emails[provider_id]:
                    existing.email = emails[provider_id]
                    provider_counts.updated += 1
                else:
                    provider_counts.unchanged += 1
            _upsert(session, Offering, offering.id, _offering_values(offering), offering_counts)
        session.flush()
    if needs:
        counts = report.counts.setdefault("needs", EntityCounts())
        for need in needs:
            _upsert(session, Need, need.id, _need_values(need), counts)
        session.flush()
    if report.changed:
        session.add(
            AuditEvent(
                actor=actor,
                actor_role="system",
                action="catalog.load",
                entity_type="catalog",
                entity_id=None,
                after={entity: vars(counts) for entity, counts in report.counts.items()},
            )
        )
    return report


def load_files(
    session: Session, paths: Sequence[Path], kind: Kind | None = None, actor: str = "cli"
) -> ImportReport:
    """Read, validate and import ``paths`` as one all-or-nothing batch (caller commits)."""
    rows, raw_rows, errors, ignored = read_sources(paths, kind)
    errors.extend(check_across_rows(session, raw_rows))
    if errors:
        order = {str(path): position for position, path in enumerate(paths)}
        raise ImportRejected(sorted(errors, key=lambda error: (order.get(error.file, 0), error.line)))
    for file_name, names in ignored.items():
        logger.warning("%s: ignored unknown field(s): %s", file_name, ", ".join(names))
    report = import_rows(session, rows, actor=actor)
    report.ignored_fields = ignored
    return report


def is_empty(session: Session) -> bool:
    return (
        session.scalar(select(Party.iso3).limit(1)) is None
        and session.scalar(select(Offering.id).limit(1)) is None
    )


def seed_if_empty(session: Session) -> ImportReport | None:
    """Load the bundled catalog into an empty database; do nothing otherwise."""
    if not is_empty(session):
        return None
    report = load_files(session, bundled_catalog_files(), actor="seed")
    logger.info("seeded an empty database with the bundled catalog: %s", "; ".join(report.lines()))
    return report


# --------------------------------------------------------------------------- history
#
# Each record of a history file (``catalog.rows.HistoryRow``) becomes a *closed* need with an
# ``introduced`` proposal for each offering that served it and a ``rejected`` one (with the
# reason) for each it declined, audited as imported (``need.import``, and one
# ``history.load`` for the batch). All or nothing with line errors, like ``load_files``;
# upserted by need id, so importing the same file twice changes nothing.

NO_REASON = "declined (no reason recorded)"


@dataclass
class HistoryReport:
    needs: EntityCounts = field(default_factory=EntityCounts)
    proposals: EntityCounts = field(default_factory=EntityCounts)
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.needs.changed or self.proposals.changed or self.removed)

    def lines(self) -> list[str]:
        return [
            f"past needs: {self.needs}",
            f"proposals: {self.proposals}" + (f", {self.removed} removed" if self.removed else ""),
        ]


def check_history(session: Session, sources: Sequence[HistorySource]) -> list[RowError]:
    """Checks against other rows and the database: duplicate ids, unknown parties and
    offerings, and ids of live needs (a history record never replaces an open need)."""
    errors: list[RowError] = []
    first: dict[str, HistorySource] = {}
    for source in sources:
        earlier = first.setdefault(source.row.id, source)
        if earlier is not source:
            errors.append(
                RowError(
                    source.file,
                    source.line,
                    "id",
                    f"duplicate id {source.row.id!r} (first at {earlier.file}:{earlier.line})",
                )
            )
    parties = set(session.scalars(select(Party.iso3)))
    offerings = set(session.scalars(select(Offering.id)))
    ids = [source.row.id for source in sources]
    existing = {
        need.id: need.status
        for start in range(0, len(ids), 500)
        for need in session.scalars(select(Need).where(Need.id.in_(ids[start : start + 500])))
    }
    for source in sources:
        row = source.row
        if row.party not in parties:
            errors.append(RowError(source.file, source.line, "party", f"unknown party {row.party!r}"))
        for name, values in (
            ("served_by", row.served_by),
            ("declined", [d.offering_id for d in row.declined]),
        ):
            unknown = [value for value in values if value not in offerings]
            if unknown:
                errors.append(
                    RowError(source.file, source.line, name, f"unknown offering(s) {', '.join(unknown)}")
                )
        status = existing.get(row.id)
        if status is not None and status != "closed":
            errors.append(
                RowError(
                    source.file,
                    source.line,
                    "id",
                    f"need {row.id!r} exists and is {status}: a history record only adds or "
                    "replaces a closed need",
                )
            )
    return errors


def load_history(session: Session, paths: Sequence[Path], actor: str = "cli") -> HistoryReport:
    """Read, check and import ``paths`` as one all-or-nothing batch (caller commits)."""
    sources, errors, ignored = read_history(paths)
    errors.extend(check_history(session, sources))
    if errors:
        order = {str(path): position for position, path in enumerate(paths)}
        raise ImportRejected(sorted(errors, key=lambda error: (order.get(error.file, 0), error.line)))
    for file_name, names in ignored.items():
        logger.warning("%s: ignored unknown field(s): %s", file_name, ", ".join(names))
    report = HistoryReport()
    for source in sources:
        _import_record(session, source.row, actor, report)
    if report.changed:
        session.add(
            AuditEvent(
                actor=actor,
                actor_role="system",
                action="history.load",
                entity_type="history",
                entity_id=None,
                after={
                    "files": [str(path) for path in paths],
                    "needs": vars(report.needs),
                    "proposals": vars(report.proposals),
                    "removed": report.removed,
                },
            )
        )
    session.flush()
    return report


def _import_record(session: Session, row: HistoryRow, actor: str, report: HistoryReport) -> None:
    values = _need_values(row)
    for name in ("served_by", "declined", "year"):
        values.pop(name, None)
    values["status"] = "closed"
    values["history_year"] = row.year
    need = session.get(Need, row.id)
    need_changed = need is None or any(getattr(need, column) != value for column, value in values.items())
    if need is None:
        need = Need(**values)
        session.add(need)
        report.needs.created += 1
    elif need_changed:
        for column, value in values.items():
            setattr(need, column, value)
        report.needs.updated += 1
    else:
        report.needs.unchanged += 1
    session.flush()
    wanted: dict[str, tuple[str, str | None]] = {
        offering_id: ("introduced", None) for offering_id in row.served_by
    }
    wanted.update({item.offering_id: ("rejected", item.reason or NO_REASON) for item in row.declined})
    existing = {
        match.offering_id: match for match in session.scalars(select(Match).where(Match.need_id == row.id))
    }
    proposals_changed = False
    now = utcnow()
    for offering_id, (state, reason) in wanted.items():
        match = existing.get(offering_id)
        if match is None:
            session.add(
                Match(
                    need_id=row.id,
                    offering_id=offering_id,
                    state=state,
                    reject_reason=reason,
                    score=0.0,
                    components={},
                    explanation={"imported": True, "year": row.year},
                    rank=0,
                    engine_version=IMPORTED,
                    reviewer=actor,
                    decided_at=now,
                    introduced_at=now if state == "introduced" else None,
                )
            )
            report.proposals.created += 1
            proposals_changed = True
        elif match.state != state or match.reject_reason != reason:
            match.state, match.reject_reason = state, reason
            match.decided_at = now
            match.introduced_at = now if state == "introduced" else None
            report.proposals.updated += 1
            proposals_changed = True
        else:
            report.proposals.unchanged += 1
    for offering_id, match in existing.items():
        if offering_id not in wanted and match.engine_version == IMPORTED:
            session.delete(match)
            report.removed += 1
            proposals_changed = True
    if need_changed or proposals_changed:
        session.add(
            AuditEvent(
                actor=actor,
                actor_role="system",
                action="need.import",
                entity_type="need",
                entity_id=row.id,
                after={
                    "party": row.party,
                    "served_by": row.served_by,
                    "declined": [item.model_dump() for item in row.declined],
                    "year": row.year,
                },
            )
        )


# --------------------------------------------------------------------------- export


def export_records(session: Session, kind: Kind) -> list[dict[str, Any]]:
    """Every row of ``kind`` in the interchange format, ordered by id."""
    if kind == "parties":
        return [
            PartyRow.model_validate(party, from_attributes=True).to_record()
            for party in session.scalars(select(Party).order_by(Party.iso3))
        ]
    if kind == "offerings":
        query = select(Offering).options(selectinload(Offering.provider_ref)).order_by(Offering.id)
        # ``Offering.provider_email`` reads the provider's address, so each row carries it.
        return [
            OfferingRow.model_validate(offering, from_attributes=True).to_record()
            for offering in session.scalars(query)
        ]
    records = []
    for need in session.scalars(select(Need).order_by(Need.id)):
        record = {name: getattr(need, name) for name in NeedRow.model_fields if name != "party"}
        record["party"] = need.party_iso3
        records.append(NeedRow.model_validate(record).to_record())
    return records


def seed_store(session_factory: sessionmaker[Session]) -> ImportReport | None:
    """Seed a migrated database with the bundled catalog when it is empty (one transaction).
    The CLI and the app start-up call this after opening the store."""
    with session_scope(session_factory) as session:
        return seed_if_empty(session)
