"""National-report answers (Article 21) as input to the needs assessment.

``matcher answers load FILE...`` reads JSON Lines or CSV with the fields ``party``, ``cycle``
(e.g. 2021, 2025), ``question_id``, ``question``, ``answer`` and optionally ``language``.
Like every import it is all or nothing: every bad line is listed as ``FILE:LINE: field:
message`` and nothing is written. Answers are upserted by (party, cycle, question_id), so
loading the same file twice changes nothing. Each answer is read like a need (language,
inferred sectors and assistance types, the vague check, the challenge kind); the question
only leans the challenge kind. Other fields (labels of an evaluation sample, say) are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.files import ImportRejected, RowError, read_rows
from catalog.loaders import EntityCounts, ImportReport
from catalog.rows import InterchangeRow, Iso3, NonEmptyText, _check_codes
from matcher.store.models import AuditEvent, Party, ReportAnswer
from matcher.taxonomy import load_taxonomy

logger = logging.getLogger(__name__)

QuestionId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
    ),
]


class AnswerRow(InterchangeRow):
    """One free-text answer of a national report."""

    party: Iso3
    cycle: Annotated[int, Field(ge=2017, le=2100)]
    question_id: QuestionId
    question: NonEmptyText
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
    language: str | None = None

    @field_validator("language")
    @classmethod
    def _language_known(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _check_codes([value.lower()], load_taxonomy().allowed("languages"), "language code")[0]


def read_answer_files(
    session: Session, paths: Sequence[Path]
) -> tuple[list[AnswerRow], dict[str, list[str]]]:
    """Validated answers of ``paths``, or ``ImportRejected`` listing every bad line: a row
    that fails its own checks, an unknown Party, or a repeated (party, cycle, question_id)."""
    rows, errors, ignored = read_rows(paths, AnswerRow)
    known = set(session.scalars(select(Party.iso3)))
    first_seen: dict[tuple[str, int, str], str] = {}
    good: list[AnswerRow] = []
    for read in rows:
        row = read.row
        if not isinstance(row, AnswerRow):
            continue
        if row.party not in known:
            errors.append(
                RowError(
                    read.file, read.line, "party", f"unknown party {row.party!r} (not in the party list)"
                )
            )
            continue
        key = (row.party, row.cycle, row.question_id)
        if key in first_seen:
            errors.append(
                RowError(
                    read.file,
                    read.line,
                    "question_id",
                    f"{row.party} answered {row.question_id} for cycle {row.cycle} twice (first at {first_seen[key]})",
                )
            )
            continue
        first_seen[key] = f"{read.file}:{read.line}"
        good.append(row)
    if errors:
        order = {str(path): position for position, path in enumerate(paths)}
        raise ImportRejected(sorted(errors, key=lambda error: (order.get(error.file, 0), error.line)))
    return good, ignored


def answer_values(row: AnswerRow, *, source: str = "report", demo: bool = False) -> dict[str, Any]:
    """The stored columns of an answer: what it says and how it is read."""
    from matcher.engine.challenges import read_statement
    from matcher.engine.understanding import default_reader

    statement = read_statement(row.answer, row.language, question=row.question, reader=default_reader())
    return {
        "party_iso3": row.party,
        "cycle": row.cycle,
        "question_id": row.question_id,
        "question": row.question,
        "answer": row.answer,
        "language": statement.language,
        "sectors": list(statement.reading.inferred_sectors),
        "assistance_types": list(statement.reading.inferred_assistance_types),
        "challenge_kind": statement.challenge.kind,
        "vague": statement.vague,
        "source": source,
        "demo": demo,
    }


def import_answers(
    session: Session, rows: Sequence[AnswerRow], *, actor: str = "cli", demo: bool = False
) -> tuple[ImportReport, list[ReportAnswer]]:
    """Upsert validated answers in the caller's transaction; the report counts created,
    updated and unchanged answers (an unchanged answer is not written at all)."""
    report = ImportReport()
    counts = report.counts.setdefault("answers", EntityCounts())
    stored: list[ReportAnswer] = []
    for row in rows:
        values = answer_values(row, demo=demo)
        existing = session.scalar(
            select(ReportAnswer).where(
                ReportAnswer.party_iso3 == row.party,
                ReportAnswer.cycle == row.cycle,
                ReportAnswer.question_id == row.question_id,
            )
        )
        if existing is None:
            existing = ReportAnswer(**values)
            session.add(existing)
            counts.created += 1
        elif all(getattr(existing, column) == value for column, value in values.items()):
            counts.unchanged += 1
        else:
            for column, value in values.items():
                setattr(existing, column, value)
            counts.updated += 1
        stored.append(existing)
    session.flush()
    if report.changed:
        session.add(
            AuditEvent(
                actor=actor,
                actor_role="system",
                action="answers.load",
                entity_type="report_answers",
                entity_id=None,
                after={"answers": vars(counts)},
            )
        )
    return report, stored


def load_answer_files(
    session: Session, paths: Sequence[Path], *, actor: str = "cli", demo: bool = False
) -> tuple[ImportReport, list[ReportAnswer]]:
    """Read, validate and import ``paths`` as one all-or-nothing batch (the caller commits)."""
    rows, ignored = read_answer_files(session, paths)
    for file_name, names in ignored.items():
        logger.warning("%s: ignored field(s): %s", file_name, ", ".join(names))
    report, stored = import_answers(session, rows, actor=actor, demo=demo)
    report.ignored_fields = ignored
    return report, stored
