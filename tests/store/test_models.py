"""Constraints of the domain model, enforced by the database on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, InternalError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from matcher.store.db import session_scope
from matcher.store.models import (
    CATALOG_CHANNEL,
    AuditEvent,
    AuditEventImmutableError,
    CatalogChange,
    Match,
    Need,
    Offering,
    Party,
    Provider,
    catalog_version,
    has_uncommitted_catalog_change,
    has_uncommitted_writes,
    record_catalog_change,
)

DATABASE_REFUSALS = (IntegrityError, OperationalError, InternalError, ProgrammingError)


def make_party(**overrides: object) -> Party:
    values = {"iso3": "KEN", "name_en": "Kenya", "un_region": "africa", "status": "developing"}
    values.update(overrides)
    return Party(**values)


def make_offering(**overrides: object) -> Offering:
    values = {
        "id": "offer-1",
        "provider_id": "org",
        "provider": "Org",
        "provider_kind": "ngo",
        "title": "Programme",
        "description": "Help.",
    }
    values.update(overrides)
    return Offering(**values)


def make_need(**overrides: object) -> Need:
    values = {"id": "need-1", "party_iso3": "KEN", "title": "Need", "description": "We need help."}
    values.update(overrides)
    return Need(**values)


@pytest.fixture
def base_rows(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        session.add_all([make_party(), Provider(provider_id="org", name="Org")])
        session.flush()
        session.add_all([make_offering(), make_need()])
    return sessions


def commit_fails(sessions: sessionmaker[Session], *objects: object) -> None:
    with pytest.raises(DATABASE_REFUSALS), session_scope(sessions) as session:
        session.add_all(objects)


def test_defaults_and_times(base_rows: sessionmaker[Session]) -> None:
    with base_rows() as session:
        need = session.get(Need, "need-1")
        assert need is not None
        assert need.status == "submitted" and need.confidential is False
        assert need.sectors == [] and need.inferred_sectors == []
        assert need.created_at.tzinfo is not None
        assert abs(need.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
        offering = session.get(Offering, "offer-1")
        assert offering is not None and offering.active and offering.verified


def test_unknown_enumerations_are_refused(base_rows: sessionmaker[Session]) -> None:
    commit_fails(base_rows, make_party(iso3="XXA", status="rich"))
    commit_fails(base_rows, make_need(id="need-2", status="lost"))
    commit_fails(base_rows, make_offering(id="offer-2", provider_kind="wizard"))


def test_foreign_keys_are_enforced(base_rows: sessionmaker[Session]) -> None:
    commit_fails(base_rows, make_need(id="need-2", party_iso3="ZZZ"))
    commit_fails(base_rows, make_offering(id="offer-2", provider_id="nobody"))


def test_ranges_are_checked(base_rows: sessionmaker[Session]) -> None:
    commit_fails(base_rows, make_offering(id="offer-2", funding_min_usd=10, funding_max_usd=5))
    commit_fails(
        base_rows, make_offering(id="offer-3", opens=dt.date(2027, 1, 2), closes=dt.date(2027, 1, 1))
    )
    commit_fails(base_rows, make_need(id="need-2", budget_usd=-1))


def make_match(**overrides: object) -> Match:
    values = {
        "need_id": "need-1",
        "offering_id": "offer-1",
        "score": 0.5,
        "rank": 1,
        "engine_version": "test",
    }
    values.update(overrides)
    return Match(**values)


def test_match_is_unique_per_need_and_offering(base_rows: sessionmaker[Session]) -> None:
    with session_scope(base_rows) as session:
        session.add(make_match())
    commit_fails(base_rows, make_match(score=0.9))


def test_rejection_needs_a_reason(base_rows: sessionmaker[Session]) -> None:
    commit_fails(base_rows, make_match(state="rejected"))
    commit_fails(base_rows, make_match(state="maybe"))
    with session_scope(base_rows) as session:
        session.add(make_match(state="rejected", reject_reason="not eligible"))


def test_audit_events_are_append_only(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        session.add(
            AuditEvent(actor="key-1", actor_role="secretariat", action="need.create", entity_type="need")
        )
    with pytest.raises(AuditEventImmutableError), session_scope(sessions) as session:
        event = session.query(AuditEvent).one()
        event.action = "rewritten"
    with pytest.raises(AuditEventImmutableError), session_scope(sessions) as session:
        session.delete(session.query(AuditEvent).one())
    # The database refuses too, whoever asks.
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DATABASE_REFUSALS), session_scope(sessions) as session:
            session.execute(text(statement))
    with sessions() as session:
        assert session.query(AuditEvent).one().action == "need.create"


def test_offering_and_need_writes_bump_the_catalogue_version_in_their_transaction(
    sessions: sessionmaker[Session],
) -> None:
    with session_scope(sessions) as session:
        assert catalog_version(session) == 0
        session.add_all([make_party(), Provider(provider_id="org", name="Org")])
    assert _version(sessions) == 0  # parties and providers do not change what rankings see
    with session_scope(sessions) as session:
        session.add(make_offering())
    assert _version(sessions) == 1
    with session_scope(sessions) as session:
        session.add(make_need())
        session.get(Offering, "offer-1").title = "Renamed"  # type: ignore[union-attr]
    assert _version(sessions) == 2
    with sessions() as session:
        logged = session.execute(
            select(CatalogChange.version, CatalogChange.entity_type, CatalogChange.entity_id).order_by(
                CatalogChange.id
            )
        ).all()
    assert [tuple(row) for row in logged] == [
        (1, "offering", "offer-1"),
        (2, "need", "need-1"),
        (2, "offering", "offer-1"),
    ]
    with session_scope(sessions) as session:
        session.get(Offering, "offer-1")  # read only: no bump
    assert _version(sessions) == 2
    with pytest.raises(RuntimeError), session_scope(sessions) as session:
        session.get(Need, "need-1").title = "Rolled back"  # type: ignore[union-attr]
        session.flush()
        raise RuntimeError("abort the transaction")
    assert _version(sessions) == 2  # the bump rolled back with the write


def _version(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return catalog_version(session)


def test_decisions_and_model_changes_bump_the_catalogue_version_but_a_proposal_does_not(
    base_rows: sessionmaker[Session],
) -> None:
    start = _version(base_rows)
    with session_scope(base_rows) as session:
        session.add(Match(need_id="need-1", offering_id="offer-1", score=0.5, rank=1, engine_version="test"))
        session.get(Need, "need-1").status = "in_review"  # type: ignore[union-attr]  # stays open
    assert _version(base_rows) == start  # a proposal changes no ranking
    with session_scope(base_rows) as session:
        match = session.scalars(select(Match)).one()
        match.state, match.reviewer = "accepted", "key:staff"  # a decision
    with session_scope(base_rows) as session:
        match = session.scalars(select(Match)).one()
        match.state, match.reviewer = "proposed", None  # undone
    with session_scope(base_rows) as session:
        assert record_catalog_change(session, "model", "reranker-2") == start + 3
        assert has_uncommitted_catalog_change(session)
    with base_rows() as session:
        logged = session.execute(
            select(CatalogChange.version, CatalogChange.entity_type, CatalogChange.entity_id)
            .where(CatalogChange.version > start)
            .order_by(CatalogChange.id)
        ).all()
        assert not has_uncommitted_catalog_change(session)
    # A decision (or its undo) is logged under its need: it is history from then on.
    assert [tuple(row) for row in logged] == [
        (start + 1, "decision", "need-1"),
        (start + 2, "decision", "need-1"),
        (start + 3, "model", "reranker-2"),
    ]


@pytest.mark.postgres
def test_a_transaction_that_wrote_is_known_until_it_ends(base_rows: sessionmaker[Session]) -> None:
    with base_rows() as session:
        session.scalars(select(Need)).all()
        assert not has_uncommitted_writes(session)  # a read holds no write lock
        session.get(Need, "need-1").title = "Changed"  # type: ignore[union-attr]
        session.flush()
        assert has_uncommitted_writes(session)
        session.commit()
        assert not has_uncommitted_writes(session)
        session.execute(update(Provider).where(Provider.provider_id == "org").values(name="Other"))
        assert has_uncommitted_writes(session)  # a statement, no flush
        session.rollback()
        assert not has_uncommitted_writes(session)


def test_a_committed_change_is_notified_on_postgresql(tmp_path: object) -> None:
    """Workers LISTEN on ``CATALOG_CHANNEL``: the version arrives when the write commits."""
    import psycopg

    from matcher.store.db import create_db_engine, make_session_factory, upgrade
    from tests.conftest import _reset_postgres, postgres_url_or_skip

    url = postgres_url_or_skip()
    _reset_postgres(url)
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as listener:
        listener.execute(f"LISTEN {CATALOG_CHANNEL}")
        with session_scope(sessions) as session:
            session.add_all([make_party(), Provider(provider_id="org", name="Org")])
            session.flush()
            session.add(make_offering())
            session.flush()
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # not before the commit
        received = list(listener.notifies(timeout=5, stop_after=1))
    engine.dispose()
    assert [(note.channel, note.payload) for note in received] == [(CATALOG_CHANNEL, "1")]
