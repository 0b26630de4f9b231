"""Reading and writing interchange files (JSON Lines or CSV), with no database involved.

Reading validates every row and collects every problem as ``FILE:LINE: field: message``;
``catalog.loaders`` then writes a clean batch into the store. The evaluation harness and
``matcher rank`` read labelled sets through here too, and history files (``read_history``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from catalog.rows import ROW_MODELS, HistoryRow, InterchangeRow, Kind, infer_kind
from matcher.csv_guard import guard_cell, unguard_cell

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


# --------------------------------------------------------------------------- reading


def _read_raw_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError], list[str]]:
    """Raw rows (line number, field → value) of one file, its parse errors and field names."""
    name = str(path)
    try:
        # newline="": a carriage return inside a quoted CSV cell is text, kept as it is.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
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
    """CSV conventions: empty cell = null, list fields split on ';', booleans true/false; a
    cell beginning with a single quote is read without it (the export's formula guard,
    ``matcher.csv_guard``)."""
    converted: dict[str, Any] = {}
    for key, cell in raw.items():
        value = unguard_cell(cell.strip()) if isinstance(cell, str) else cell
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
        for line, data, row in _validate_file(path, ROW_MODELS[file_kind], raw_rows, fields, errors, ignored):
            raw_rows_all.append(RawRow(file=name, line=line, kind=file_kind, data=data))
            if row is not None:
                good.append(SourceRow(file=name, line=line, kind=file_kind, row=row))
    return good, raw_rows_all, errors, ignored


@dataclass
class ReadRow:
    """A row of a file read with one model: its place, its data as read, and the validated
    row (``None`` when it is invalid; its errors are in the error list)."""

    file: str
    line: int
    data: dict[str, Any]
    row: InterchangeRow | None


def read_rows(
    paths: Sequence[Path], model: type[InterchangeRow]
) -> tuple[list[ReadRow], list[RowError], dict[str, list[str]]]:
    """Read every row of ``paths`` with one row model (for kinds outside the catalogue's
    three, such as national-report answers): the rows, every error and the ignored fields."""
    rows: list[ReadRow] = []
    errors: list[RowError] = []
    ignored: dict[str, list[str]] = {}
    for path in paths:
        raw_rows, parse_errors, fields = _read_raw_rows(path)
        errors.extend(parse_errors)
        for line, data, row in _validate_file(path, model, raw_rows, fields, errors, ignored):
            rows.append(ReadRow(file=str(path), line=line, data=data, row=row))
    return rows, errors, ignored


def _validate_file(
    path: Path,
    model: type[InterchangeRow],
    raw_rows: list[tuple[int, dict[str, Any]]],
    fields: list[str],
    errors: list[RowError],
    ignored: dict[str, list[str]],
) -> list[tuple[int, dict[str, Any], InterchangeRow | None]]:
    """Validate the raw rows of one file with ``model``, appending problems to ``errors``."""
    name = str(path)
    unknown = [field_name for field_name in fields if field_name not in model.model_fields]
    if unknown:
        ignored[name] = unknown
    is_csv = path.suffix.lower() == ".csv"
    out: list[tuple[int, dict[str, Any], InterchangeRow | None]] = []
    for line, raw in raw_rows:
        data = _from_csv_cells(model, raw) if is_csv else raw
        try:
            row: InterchangeRow | None = model.model_validate(data)
        except ValidationError as error:
            for problem in error.errors():
                message = problem["msg"].removeprefix("Value error, ")
                errors.append(RowError(name, line, _error_field(problem["loc"]), message))
            row = None
        out.append((line, data, row))
    return out


@dataclass(frozen=True)
class HistorySource:
    file: str
    line: int
    row: HistoryRow


def read_history(paths: Sequence[Path]) -> tuple[list[HistorySource], list[RowError], dict[str, list[str]]]:
    """Read and validate every record of ``paths`` (JSON Lines). Returns the valid rows, every
    error of single rows, and the unknown (ignored) field names per file."""
    good: list[HistorySource] = []
    errors: list[RowError] = []
    ignored: dict[str, list[str]] = {}
    for path in paths:
        name = str(path)
        if path.suffix.lower() not in (".jsonl", ".json"):
            errors.append(RowError(name, 0, "file", "history files are JSON Lines (.jsonl)"))
            continue
        raw_rows, parse_errors, fields = _read_raw_rows(path)
        errors.extend(parse_errors)
        unknown = [name for name in fields if name not in HistoryRow.model_fields]
        if unknown:
            ignored[str(path)] = unknown
        for line, data in raw_rows:
            try:
                row = HistoryRow.model_validate(data)
            except ValidationError as error:
                for problem in error.errors():
                    location = ".".join(str(part) for part in problem["loc"]) or "-"
                    errors.append(
                        RowError(name, line, location, problem["msg"].removeprefix("Value error, "))
                    )
                continue
            good.append(HistorySource(name, line, row))
    return good, errors, ignored


# --------------------------------------------------------------------------- writing


def format_records(records: Iterable[dict[str, Any]], kind: Kind, file_format: str) -> str:
    """Render records as JSON Lines or CSV (header first, lists joined with ';', every cell
    through the reversible formula guard)."""
    if file_format == "jsonl":
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    model = ROW_MODELS[kind]
    buffer = io.StringIO(newline="")
    # CRLF line ends (RFC 4180): then every cell holding a carriage return is quoted and
    # reads back whole (with "\n" ends, a lone "\r" in a cell went out unquoted and split the row).
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = list(model.field_names())
    writer.writerow(columns)
    for record in records:
        # Guarded (a spreadsheet shows formulas as text), reversibly (the reader undoes it).
        writer.writerow([guard_cell(_csv_cell(record.get(column)), reversible=True) for column in columns])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return CSV_LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)
