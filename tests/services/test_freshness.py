"""Two workers on one database: each applies the other's writes from the change log, caches
rankings per snapshot and drops only what a change affects."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.loaders import bundled_catalog_files, load_files
from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL, FakeEncoder
from matcher.services.access import Principal
from matcher.services.freshness import CatalogFollower
from matcher.services.matching import MatchingService, need_profile, party_profile
from matcher.services.needs import create_need
from matcher.services.offerings import update_offering
from matcher.services.operations import is_ready, readiness
from matcher.store.db import session_scope
from matcher.store.models import Match, Need, Offering, Party, catalog_version, record_catalog_change

TODAY = dt.date(2026, 11, 28)
ENCODER = FakeEncoder(64)


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files())
    return sessions


def worker(catalog: sessionmaker[Session], folder: Path) -> MatchingService:
    service = MatchingService(
        encoders={MULTILINGUAL: ENCODER, ENGLISH: ENCODER}, index_dir=folder, freshness_seconds=0
    )
    with session_scope(catalog) as session:
        service.load(session)
    return service


def zebrafish(**fields: object) -> Offering:
    values: dict[str, object] = {
        "id": "zebrafish-lab",
        "provider_id": "unep",
        "provider": "UNEP",
        "title": "Zebrafish mercury biomarkers",
        "description": "Zebrafish mercury biomarkers laboratory work for any Party.",
        "sectors": ["research-monitoring"],
        "assistance_types": ["data"],
    }
    values.update(fields)
    return Offering(**values)


def ranked_ids(service: MatchingService, session: Session, need_id: str = "n-zebra") -> list[str]:
    need = session.get(Need, need_id)
    assert need is not None
    ranking = service.rank_need(session, need_profile(need), party_profile(need.party), today=TODAY)
    return [item.offering.id for item in ranking.results]


def add_need(session: Session, need_id: str = "n-zebra", **fields: object) -> None:
    values: dict[str, object] = {
        "title": "Zebrafish mercury biomarkers",
        "description": "Zebrafish mercury biomarkers laboratory work.",
        "language": "en",
    }
    values.update(fields)
    session.add(Need(id=need_id, party_iso3="KEN", **values))


def test_a_write_through_one_worker_is_served_by_the_other(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    a, b = worker(catalog, tmp_path / "a"), worker(catalog, tmp_path / "b")
    with session_scope(catalog) as session:
        add_need(session)
    with session_scope(catalog) as session:
        a.need_changed(session, "n-zebra")
        assert "zebrafish-lab" not in ranked_ids(b, session)  # b applies the need, then ranks it
        assert "n-zebra" in b.state.needs
    with session_scope(catalog) as session:
        session.add(zebrafish())
    with session_scope(catalog) as session:
        a.offering_changed(session, "zebrafish-lab")
        assert ranked_ids(b, session)[0] == "zebrafish-lab"
        # b's donor view knows the new offering (it was a KeyError: 500) and scores it as a does.
        mine = b.rank_needs_for_offering(session, "zebrafish-lab", today=TODAY)
        theirs = a.rank_needs_for_offering(session, "zebrafish-lab", today=TODAY)
        assert [m.need_id for m in mine] == [m.need_id for m in theirs] == ["n-zebra"]
        assert mine[0].score == pytest.approx(theirs[0].score)
        assert is_ready(readiness(session, b))
    with session_scope(catalog) as session:
        session.get(Offering, "zebrafish-lab").active = False  # type: ignore[union-attr]
    with session_scope(catalog) as session:
        assert "zebrafish-lab" not in ranked_ids(b, session)
        assert b.rank_needs_for_offering(session, "zebrafish-lab", today=TODAY) == []
        assert b.catalog_version == catalog_version(session) == a.catalog_version + 1


def test_rankings_are_cached_per_snapshot_and_dropped_only_where_a_change_reaches(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    service = worker(catalog, tmp_path)
    with session_scope(catalog) as session:
        add_need(session)
        add_need(session, "n-dental", title="Dental amalgam", description="Amalgam separators for clinics.")
    with session_scope(catalog) as session:
        service.sync(session)
        kenya = party_profile(session.get(Party, "KEN"))  # type: ignore[arg-type]
        zebra = need_profile(session.get(Need, "n-zebra"))  # type: ignore[arg-type]
        first = service.rank_need(session, zebra, kenya, today=TODAY)
        assert service.rank_need(session, zebra, kenya, today=TODAY) is first
    # Another need changes: this ranking is untouched.
    with session_scope(catalog) as session:
        session.get(Need, "n-dental").title = "Dental amalgam separators"  # type: ignore[union-attr]
    with session_scope(catalog) as session:
        assert service.rank_need(session, zebra, kenya, today=TODAY) is first
    # An offering that does not reach the ranking (another region) changes: still untouched.
    with session_scope(catalog) as session:
        session.add(zebrafish(id="zebrafish-weog", regions=["weog"]))
    with session_scope(catalog) as session:
        assert service.rank_need(session, zebra, kenya, today=TODAY) is first
    # One that enters it: recomputed, and now first.
    with session_scope(catalog) as session:
        session.add(zebrafish())
    with session_scope(catalog) as session:
        second = service.rank_need(session, zebra, kenya, today=TODAY)
        assert second is not first and second.results[0].offering.id == "zebrafish-lab"
    # A proposal merely written changes no ranking: still cached.
    with session_scope(catalog) as session:
        session.add(
            Match(need_id="n-zebra", offering_id="zebrafish-lab", score=1.0, rank=1, engine_version="t")
        )
    with session_scope(catalog) as session:
        assert service.rank_need(session, zebra, kenya, today=TODAY) is second
    # A decision is history, evidence for every ranking: all are dropped.
    with session_scope(catalog) as session:
        session.scalars(select(Match)).one().state = "accepted"
    with session_scope(catalog) as session:
        third = service.rank_need(session, zebra, kenya, today=TODAY)
        assert third is not second
        assert service.history.records[0].served == ("zebrafish-lab",)


def test_a_catalogue_import_and_a_model_change_reach_a_running_worker(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    service = worker(catalog, tmp_path)
    source = tmp_path / "more.jsonl"
    source.write_text(
        '{"id": "imported-lab", "provider_id": "unep", "provider": "UNEP", "title": "Zebrafish mercury '
        'biomarkers", "description": "Zebrafish mercury biomarkers for all.", "sectors": ["research-monitoring"]}\n',
        encoding="utf-8",
    )
    with session_scope(catalog) as session:
        load_files(session, [source])
        add_need(session)
    with session_scope(catalog) as session:
        assert ranked_ids(service, session)[0] == "imported-lab"
    with session_scope(catalog) as session:
        record_catalog_change(session, "model", "reranker-2")
    with session_scope(catalog) as session:
        before = service.state
        service.ensure_fresh(session)
        assert service.state.engine is not before.engine  # reloaded from the database
        assert service.catalog_version == catalog_version(session)


def test_uncommitted_changes_are_applied_but_not_counted_as_seen(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    service = worker(catalog, tmp_path)
    start = service.catalog_version
    with catalog() as session:
        session.add(zebrafish())
        session.flush()
        service.offering_changed(session, "zebrafish-lab")
        assert "zebrafish-lab" in service.engine.catalogue.position
        assert service.catalog_version == start  # applied, but its version is not committed
        session.rollback()
    with session_scope(catalog) as session:
        session.add(zebrafish(id="other-lab", title="Another laboratory"))
    with session_scope(catalog) as session:
        service.ensure_fresh(session)
        assert service.catalog_version == catalog_version(session) == start + 1
        assert "other-lab" in service.engine.catalogue.position


def test_the_follower_applies_changes_without_any_request(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    a, b = worker(catalog, tmp_path / "a"), worker(catalog, tmp_path / "b")
    engine = catalog.kw["bind"]
    follower = CatalogFollower(catalog, b, engine, poll_seconds=0.1)
    follower.start()
    try:
        assert follower.ready.wait(10)
        with session_scope(catalog) as session:
            session.add(zebrafish())
        with session_scope(catalog) as session:
            a.offering_changed(session, "zebrafish-lab")
            target = catalog_version(session)
        deadline = time.monotonic() + 2
        while b.catalog_version != target and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.catalog_version == target
        assert "zebrafish-lab" in b.engine.catalogue.position
        if engine.dialect.name == "postgresql":
            assert follower.notices >= 1
    finally:
        follower.stop()


def test_a_checkpoint_lets_a_restart_start_from_what_was_served(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    service = worker(catalog, tmp_path)
    with session_scope(catalog) as session:
        session.add(zebrafish())
    with session_scope(catalog) as session:
        service.offering_changed(session, "zebrafish-lab")
    assert service.checkpoint(force=True)
    restarted = worker(catalog, tmp_path)
    assert restarted.artefacts_loaded and restarted.indexes.rebuilt == [] and restarted.indexes.repaired == []
    with session_scope(catalog) as session:
        add_need(session)
    with session_scope(catalog) as session:
        assert ranked_ids(restarted, session)[0] == "zebrafish-lab"
        assert [m.id for m in session.scalars(select(Match))] == []


class CountingEncoder:
    """The test encoder, keeping every text it was asked to encode."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return ENCODER.name

    @property
    def dimension(self) -> int:
        return ENCODER.dimension

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return ENCODER.encode(texts)


def test_a_worker_woken_by_a_write_reads_its_vectors_from_the_cache(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    """The commit of a write wakes every other worker at once (NOTIFY): the written need's and
    offering's vectors are cached in that same commit, so the woken worker encodes nothing
    (on two cores, both workers encoding the same texts at once doubled a write's time)."""
    a = worker(catalog, tmp_path / "a")
    counting = CountingEncoder()
    b = MatchingService(
        encoders={MULTILINGUAL: counting, ENGLISH: counting}, index_dir=tmp_path / "b", freshness_seconds=0
    )
    with session_scope(catalog) as session:
        b.load(session)
    counting.texts.clear()
    staff = Principal(key_id="staff", role="secretariat")
    applied: list[int] = []

    def woken(_: Session) -> None:  # B's follower, at A's first commit
        if not applied:
            with session_scope(catalog) as other:
                applied.append(b.sync(other))

    with catalog() as session:
        event.listen(session, "after_commit", woken)
        need = create_need(
            session,
            staff,
            {"party": "KEN", "title": "Zebrafish biomarkers", "description": "Zebrafish mercury biomarkers."},
            matching=a,
        )
        need_id = need.id
    assert applied and applied[0] >= 1
    assert need_id in b.state.needs
    assert counting.texts == []

    applied.clear()
    with catalog() as session:
        event.listen(session, "after_commit", woken)
        update_offering(
            session,
            staff,
            "gef-trust-fund",
            {"description": "Mercury biomarkers in zebrafish, a new line."},
            matching=a,
        )
    assert applied and applied[0] >= 1
    assert counting.texts == []
