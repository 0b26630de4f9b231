"""History imports and umbrella parents, on both database engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog.loaders import (
    ImportRejected,
    bundled_catalog_files,
    export_records,
    format_records,
    load_files,
    load_history,
)
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, Match, Need, Offering
from tests.catalog.test_loaders import good_offering, write_jsonl

DEV_HISTORY = Path(__file__).parents[2] / "evaluation" / "data" / "dev_history.jsonl"


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files())
    return sessions


def record(**overrides: object) -> dict:
    row = {
        "id": "past-1",
        "party": "GHA",
        "title": "Mercury in artisanal gold mining",
        "description": "Miners in the Western Region burn amalgam in the open.",
        "language": "en",
        "served_by": ["unido-mercury", "agc"],
        "declined": [{"offering_id": "gmp", "reason": "not relevant"}],
        "year": 2018,
    }
    row.update(overrides)
    return row


def test_each_record_becomes_a_closed_need_with_introduced_and_rejected_proposals(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    file = write_jsonl(tmp_path / "history.jsonl", [record(), record(id="past-2", served_by=[], declined=[])])
    with session_scope(catalog) as session:
        report = load_history(session, [file])
        assert report.lines() == [
            "past needs: 2 created, 0 updated, 0 unchanged",
            "proposals: 3 created, 0 updated, 0 unchanged",
        ]
    with catalog() as session:
        need = session.get(Need, "past-1")
        assert need is not None and need.status == "closed" and need.history_year == 2018
        assert need.inferred_sectors  # understood like any imported need
        states = {m.offering_id: (m.state, m.reject_reason) for m in session.scalars(select(Match))}
        assert states == {
            "unido-mercury": ("introduced", None),
            "agc": ("introduced", None),
            "gmp": ("rejected", "not relevant"),
        }
        assert session.get(Need, "past-2").status == "closed"  # type: ignore[union-attr]
        actions = [event.action for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions.count("need.import") == 2 and actions.count("history.load") == 1
    with session_scope(catalog) as session:
        again = load_history(session, [file])
        assert not again.changed
    with catalog() as session:
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "need.import")).all()) == 2


def test_a_changed_record_replaces_its_imported_proposals(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(catalog) as session:
        load_history(session, [write_jsonl(tmp_path / "a.jsonl", [record()])])
    with session_scope(catalog) as session:
        report = load_history(
            session, [write_jsonl(tmp_path / "b.jsonl", [record(served_by=["unido-mercury"], declined=[])])]
        )
        assert report.removed == 2 and report.proposals.unchanged == 1
    with catalog() as session:
        assert [m.offering_id for m in session.scalars(select(Match))] == ["unido-mercury"]


def test_the_dev_history_imports(catalog: sessionmaker[Session]) -> None:
    with session_scope(catalog) as session:
        report = load_history(session, [DEV_HISTORY])
        assert (report.needs.created, report.proposals.created) == (58, 132)


def test_a_bad_batch_writes_nothing_and_names_every_line(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(catalog) as session:
        session.add(Need(id="open-need", party_iso3="KEN", title="Open", description="An open need."))
    rows = [
        record(),
        record(id="past-1"),  # duplicate
        record(id="open-need"),  # would close a live need
        record(id="past-3", year=1200),
        record(id="past-4", declined=[{"offering_id": "nope"}]),
    ]
    file = write_jsonl(tmp_path / "history.jsonl", rows)
    with session_scope(catalog) as session, pytest.raises(ImportRejected) as rejected:
        load_history(session, [file])
    messages = [str(error) for error in rejected.value.errors]
    assert any(":2: id: duplicate id 'past-1'" in m for m in messages)
    assert any(":3: id: need 'open-need' exists and is submitted" in m for m in messages)
    assert any(":4: year:" in m for m in messages)
    assert any(":5: declined: unknown offering(s) nope" in m for m in messages)
    with catalog() as session:
        assert session.get(Need, "past-1") is None
    csv = tmp_path / "history.csv"
    csv.write_text("id\n", encoding="utf-8")
    with session_scope(catalog) as session, pytest.raises(ImportRejected, match="1 bad row"):
        load_history(session, [csv])


def test_a_parent_must_be_a_known_offering_without_a_parent(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [
        good_offering(id="area-1", parent="no-such-umbrella"),
        good_offering(id="area-2", parent="gmp-coal"),  # gmp-coal is itself an area of gmp
        good_offering(id="area-3", parent="area-3"),
    ]
    with session_scope(catalog) as session, pytest.raises(ImportRejected) as rejected:
        load_files(session, [write_jsonl(tmp_path / "offerings.jsonl", rows)])
    messages = [str(error) for error in rejected.value.errors]
    assert any(":1: parent: unknown offering 'no-such-umbrella'" in m for m in messages)
    assert any(":2: parent: 'gmp-coal' names a parent itself ('gmp')" in m for m in messages)
    assert any(":3: -: parent names the offering itself" in m for m in messages)


def test_parents_survive_export_then_import(catalog: sessionmaker[Session], tmp_path: Path) -> None:
    with catalog() as session:
        assert session.get(Offering, "gmp-coal").parent == "gmp"  # type: ignore[union-attr]
        text = format_records(export_records(session, "offerings"), "offerings", "jsonl")
    exported = write_jsonl(tmp_path / "offerings.jsonl", text.splitlines())
    with session_scope(catalog) as session:
        report = load_files(session, [exported])
        assert report.counts["offerings"].unchanged == 76
