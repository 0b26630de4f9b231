"""National-report answers: JSON Lines and CSV, every bad line listed, all or nothing,
a second import changes nothing; on both database engines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.answers import load_answer_files
from catalog.loaders import ImportRejected, bundled_catalog_files, load_files
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, ReportAnswer

SAMPLE = Path(__file__).resolve().parents[2] / "evaluation" / "data" / "answers_sample.jsonl"


@pytest.fixture
def parties(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files()[:1], kind="parties")
    return sessions


def answer(**overrides: object) -> dict:
    row = {
        "party": "KEN",
        "cycle": 2025,
        "question_id": "Q-CAP-1",
        "question": "What capacities does your country lack?",
        "answer": "Inspectors at the port are not trained to sample mercury in flue gas.",
        "language": "en",
    }
    row.update(overrides)
    return row


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    path.write_text(
        "".join(
            (row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows
        ),
        encoding="utf-8",
    )
    return path


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ReportAnswer)) or 0


def test_the_labelled_sample_imports_once_and_twice_changes_nothing(parties: sessionmaker[Session]) -> None:
    with session_scope(parties) as session:
        report, _ = load_answer_files(session, [SAMPLE])
    assert report.lines() == ["answers: 72 created, 0 updated, 0 unchanged"]
    assert report.ignored_fields[str(SAMPLE)] == [
        "id",
        "challenge_kind",
        "vague",
        "sectors",
        "assistance_types",
    ]
    with parties() as session:
        before = [
            (
                a.party_iso3,
                a.cycle,
                a.question_id,
                a.language,
                a.challenge_kind,
                a.vague,
                a.sectors,
                a.updated_at,
            )
            for a in session.scalars(select(ReportAnswer).order_by(ReportAnswer.id))
        ]
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "answers.load")
        )
        languages = {row[3] for row in before}
    assert len(before) == 72 and languages == {"ar", "zh", "en", "fr", "ru", "es"}
    assert all(row[4] is not None for row in before)
    with session_scope(parties) as session:
        again, _ = load_answer_files(session, [SAMPLE])
    assert again.lines() == ["answers: 0 created, 0 updated, 72 unchanged"] and not again.changed
    with parties() as session:
        after = [
            (
                a.party_iso3,
                a.cycle,
                a.question_id,
                a.language,
                a.challenge_kind,
                a.vague,
                a.sectors,
                a.updated_at,
            )
            for a in session.scalars(select(ReportAnswer).order_by(ReportAnswer.id))
        ]
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "answers.load")
            )
            == events
        )
    assert after == before


def test_csv_answers_import_and_a_changed_answer_is_updated(
    parties: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "answers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["party", "cycle", "question_id", "question", "answer", "language"]
        )
        writer.writeheader()
        writer.writerow(answer())
        writer.writerow(
            answer(party="SEN", language="", answer="Aucune ligne budgétaire n'est prévue pour l'orpaillage.")
        )
    with session_scope(parties) as session:
        report, stored = load_answer_files(session, [path])
        assert report.lines() == ["answers: 2 created, 0 updated, 0 unchanged"]
        kinds = {item.party_iso3: (item.language, item.challenge_kind) for item in stored}
    assert kinds == {"KEN": ("en", "capacity"), "SEN": ("fr", "financing")}
    changed = write_jsonl(
        tmp_path / "changed.jsonl", [answer(answer="No budget was allocated to sample flue gas.")]
    )
    with session_scope(parties) as session:
        report, _ = load_answer_files(session, [changed])
    assert report.lines() == ["answers: 0 created, 1 updated, 0 unchanged"]
    with parties() as session:
        assert count(session) == 2
        ken = session.scalar(select(ReportAnswer).where(ReportAnswer.party_iso3 == "KEN"))
        assert ken is not None and ken.challenge_kind == "financing"


def test_a_bad_file_changes_nothing_and_lists_every_bad_line(
    parties: sessionmaker[Session], tmp_path: Path
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [answer()])
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            answer(party="SEN", question_id="Q-1"),
            answer(party="XXX"),
            "{not json",
            answer(cycle="soon"),
            answer(answer=""),
            answer(language="de"),
            answer(party="SEN", question_id="Q-1"),
            {"party": "KEN", "cycle": 2021},
        ],
    )
    with pytest.raises(ImportRejected) as rejected, session_scope(parties) as session:
        load_answer_files(session, [good, bad])
    lines = [str(error) for error in rejected.value.errors]
    bad_name = str(bad)
    assert {line.split(": ")[0] for line in lines} == {f"{bad_name}:{n}" for n in (2, 3, 4, 5, 6, 7, 8)}
    assert any("unknown party 'XXX'" in line for line in lines)
    assert any(line.startswith(f"{bad_name}:3: -: malformed JSON") for line in lines)
    assert any(line.startswith(f"{bad_name}:4: cycle:") for line in lines)
    assert any(line.startswith(f"{bad_name}:6: language: unknown language code") for line in lines)
    assert any(line.startswith(f"{bad_name}:7: question_id:") and "twice (first at" in line for line in lines)
    assert {f"{bad_name}:8: {field}" for field in ("question_id", "question", "answer")} <= {
        line.rsplit(": ", 1)[0] for line in lines
    }
    with parties() as session:
        assert count(session) == 0  # the good file was not written either
