"""Import and export of the interchange format (JSON Lines or CSV).

An import is all-or-nothing across every file of one call: all rows are read and
validated first, every problem is collected as ``FILE:LINE: field: message``, and
only a clean batch is written, in one transaction. Rows are upserted by id, so a
second load of the same files changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog.rows import KINDS, ROW_MODELS, InterchangeRow, Kind, NeedRow, OfferingRow, PartyRow, infer_kind
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, Need, Offering, Party, Provider
from matcher.taxonomy import bundled_catalog_dir

logger = logging.getLogger(__name__)

CSV_LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ImportRejected(Exception):
    """Raised when any row of an import is bad; nothing was written."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} bad row(s); nothing was imported")


@dataclass
class SourceRow:
    file: str
    line: int
    kind: Kind
    row: InterchangeRow


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


def _read_raw_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError], list[str]]:
    """Raw rows (line number, field → value) of one file, its parse errors and field names."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [], [RowError(name, 0, "file", f"cannot read: {error}")], []
    if path.suffix.lower() == ".csv":
        return _read_csv(name, text)
    return _read_jsonl(name, text)


def _read_jsonl(name: str, text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError], list[str]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    fields: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(RowError(name, number, "-", f"malformed JSON: {error.msg} at column {error.colno}"))
            continue
        if not isinstance(value, dict):
            errors.append(RowError(name, number, "-", "malformed row: expected a JSON object"))
            continue
        fields.update(dict.fromkeys(value))
        rows.append((number, value))
    return rows, errors, list(fields)


def _read_csv(name: str, text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        return [], [], []
    except csv.Error as error:
        return [], [RowError(name, 1, "-", f"malformed CSV header: {error}")], []
    line_after_previous = reader.line_num + 1
    while True:
        start = line_after_previous
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(RowError(name, start, "-", f"malformed CSV: {error}"))
            break
        line_after_previous = reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            errors.append(RowError(name, start, "-", f"expected {len(header)} cells, found {len(cells)}"))
            continue
        rows.append((start, dict(zip(header, cells, strict=True))))
    return rows, errors, header


def _from_csv_cells(model: type[InterchangeRow], raw: dict[str, Any]) -> dict[str, Any]:
    """CSV conventions: empty cell = null, list fields split on ';', booleans true/false."""
    converted: dict[str, Any] = {}
    for key, cell in raw.items():
        value = cell.strip() if isinstance(cell, str) else cell
        if value == "":
            converted[key] = None
        elif key in model.list_fields:
            converted[key] = [item.strip() for item in value.split(CSV_LIST_SEPARATOR) if item.strip()]
        else:
            converted[key] = value
    return converted


def _error_field(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location]
    return ".".join(parts) if parts else "-"


@dataclass
class RawRow:
    """A row as read (before validation), kept for checks across rows."""

    file: str
    line: int
    kind: Kind
    data: dict[str, Any]

    def text(self, name: str, *, upper: bool = False) -> str | None:
        value = self.data.get(name)
        if not isinstance(value, str) or not value.strip():
            return None
        return value.strip().upper() if upper else value.strip()


def read_sources(
    paths: Sequence[Path], kind: Kind | None = None
) -> tuple[list[SourceRow], list[RawRow], list[RowError], dict[str, list[str]]]:
    """Read and validate every row of ``paths``.

    Returns the valid rows, every row as read (for checks across rows), all errors of
    single rows and the unknown (ignored) field names per file.
    """
    good: list[SourceRow] = []
    raw_rows_all: list[RawRow] = []
    errors: list[RowError] = []
    ignored: dict[str, list[str]] = {}
    for path in paths:
        name = str(path)
        raw_rows, parse_errors, fields = _read_raw_rows(path)
        errors.extend(parse_errors)
        file_kind = kind or infer_kind(set(fields))
        if file_kind is None:
            if raw_rows:
                errors.append(
                    RowError(
                        name,
                        raw_rows[0][0],
                        "-",
                        "cannot tell the kind of rows from their fields (iso3 → parties; party and "
                        "description → needs; provider and title → offerings); pass --kind",
                    )
                )
            continue
        model = ROW_MODELS[file_kind]
        unknown = [field_name for field_name in fields if field_name not in model.model_fields]
        if unknown:
            ignored[name] = unknown
        is_csv = path.suffix.lower() == ".csv"
        for line, raw in raw_rows:
            data = _from_csv_cells(model, raw) if is_csv else raw
            raw_rows_all.append(RawRow(file=name, line=line, kind=file_kind, data=data))
            try:
                row = model.model_validate(data)
            except ValidationError as error:
                for problem in error.errors():
                    message = problem["msg"].removeprefix("Value error, ")
                    errors.append(RowError(name, line, _error_field(problem["loc"]), message))
                continue
            good.append(SourceRow(file=name, line=line, kind=file_kind, row=row))
    return good, raw_rows_all, errors, ignored


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


# --------------------------------------------------------------------------- writing


def _party_values(row: PartyRow) -> dict[str, Any]:
    return row.model_dump()


def _offering_values(row: OfferingRow) -> dict[str, Any]:
    return row.model_dump()


def _need_values(row: NeedRow) -> dict[str, Any]:
    """The row's columns, plus what is understood of its text: the language when the row
    has none (detected), and the codes it implies that it does not state (inferred)."""
    from matcher.engine.understanding import default_reader

    values = row.model_dump()
    values["party_iso3"] = values.pop("party")
    reading = default_reader().read(
        row.title, row.description, row.language, row.sectors, row.assistance_types
    )
    values["language"] = reading.language
    values["inferred_sectors"] = list(reading.inferred_sectors)
    values["inferred_assistance_types"] = list(reading.inferred_assistance_types)
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
    by_kind = {kind: [source.row for source in rows if source.kind == kind] for kind in KINDS}
    if by_kind["parties"]:
        counts = report.counts.setdefault("parties", EntityCounts())
        for row in by_kind["parties"]:
            assert isinstance(row, PartyRow)
            _upsert(session, Party, row.iso3, _party_values(row), counts)
        session.flush()
    if by_kind["offerings"]:
        provider_counts = report.counts.setdefault("providers", EntityCounts())
        offering_counts = report.counts.setdefault("offerings", EntityCounts())
        seen_providers: set[str] = set()
        for row in by_kind["offerings"]:
            assert isinstance(row, OfferingRow) and row.provider_id is not None
            if row.provider_id not in seen_providers:
                seen_providers.add(row.provider_id)
                if session.get(Provider, row.provider_id) is None:
                    # The first display text seen names the organisation; later rows keep their own text.
                    session.add(Provider(provider_id=row.provider_id, name=row.provider))
                    provider_counts.created += 1
                else:
                    provider_counts.unchanged += 1
            _upsert(session, Offering, row.id, _offering_values(row), offering_counts)
        session.flush()
    if by_kind["needs"]:
        counts = report.counts.setdefault("needs", EntityCounts())
        for row in by_kind["needs"]:
            assert isinstance(row, NeedRow)
            _upsert(session, Need, row.id, _need_values(row), counts)
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


# --------------------------------------------------------------------------- export


def export_records(session: Session, kind: Kind) -> list[dict[str, Any]]:
    """Every row of ``kind`` in the interchange format, ordered by id."""
    if kind == "parties":
        return [
            PartyRow.model_validate(party, from_attributes=True).to_record()
            for party in session.scalars(select(Party).order_by(Party.iso3))
        ]
    if kind == "offerings":
        return [
            OfferingRow.model_validate(offering, from_attributes=True).to_record()
            for offering in session.scalars(select(Offering).order_by(Offering.id))
        ]
    records = []
    for need in session.scalars(select(Need).order_by(Need.id)):
        record = {name: getattr(need, name) for name in NeedRow.model_fields if name != "party"}
        record["party"] = need.party_iso3
        records.append(NeedRow.model_validate(record).to_record())
    return records


def format_records(records: Iterable[dict[str, Any]], kind: Kind, file_format: str) -> str:
    """Render records as JSON Lines or CSV (header first, lists joined with ';')."""
    if file_format == "jsonl":
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    model = ROW_MODELS[kind]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(model.field_names())
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(record.get(column)) for column in columns])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return CSV_LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)


def seed_store(session_factory: sessionmaker[Session]) -> ImportReport | None:
    """Seed a migrated database with the bundled catalog when it is empty (one transaction).
    The CLI and the app start-up call this after opening the store."""
    with session_scope(session_factory) as session:
        return seed_if_empty(session)
