"""The engine over the store: embedding cache, persisted indexes, incremental updates."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.loaders import bundled_catalog_files, load_files
from evaluation import systems
from evaluation.dataset import load_labelled_set
from evaluation.systems import VectorCache
from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL, FakeEncoder
from matcher.engine.builder import embed_query
from matcher.engine.text.tagging import KeywordTagger, TagEvidence
from matcher.engine.understanding import RequestReader
from matcher.engine.weights import RankingWeights
from matcher.services.matching import (
    EngineNotLoadedError,
    MatchingService,
    embed_cached,
    need_profile,
    party_profile,
)
from matcher.store.db import session_scope
from matcher.store.models import CachedEmbedding, Need, Offering, Party
from matcher.taxonomy import load_taxonomy
from tests.factories import make_need, make_party

TODAY = dt.date(2026, 11, 28)


class CountingEncoder(FakeEncoder):
    def __init__(self) -> None:
        super().__init__(64, name="counting")
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        return super().encode(texts)


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files())
    return sessions


def make_service(tmp_path: Path, encoder: CountingEncoder) -> MatchingService:
    return MatchingService(encoders={MULTILINGUAL: encoder, ENGLISH: encoder}, index_dir=tmp_path / "index")


def test_unchanged_text_is_never_embedded_twice(sessions: sessionmaker[Session]) -> None:
    encoder = CountingEncoder()
    with session_scope(sessions) as session:
        first = embed_cached(session, encoder, ["a", "b", "a"])
    assert encoder.encoded == 2
    with session_scope(sessions) as session:
        second = embed_cached(session, encoder, ["b", "a", "c"])
        assert session.scalar(select(func.count()).select_from(CachedEmbedding)) == 3
    assert encoder.encoded == 3  # only "c" was new
    np.testing.assert_array_equal(second[0], first[1])
    np.testing.assert_array_equal(second[1], first[0])


def test_index_is_persisted_and_reused_when_fresh(catalog: sessionmaker[Session], tmp_path: Path) -> None:
    encoder = CountingEncoder()
    with session_scope(catalog) as session:
        service = make_service(tmp_path, encoder)
        service.load(session)
    assert sorted(service.indexes.rebuilt) == [ENGLISH, MULTILINGUAL]
    manifest = json.loads((tmp_path / "index" / f"offerings-{MULTILINGUAL}" / "manifest.json").read_text())
    assert manifest["encoder"] == "counting" and manifest["count"] == 76 and manifest["dimension"] == 64
    with session_scope(catalog) as session:
        again = make_service(tmp_path, encoder)
        again.load(session)
    assert again.indexes.rebuilt == []


def test_stale_or_corrupt_index_is_repaired_or_rebuilt_not_served(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    encoder = CountingEncoder()
    with session_scope(catalog) as session:
        make_service(tmp_path, encoder).load(session)
    # The database changes behind the index's back: the fingerprint no longer matches, but
    # the saved artefacts say what the index held, so only the changed offering is redone.
    with session_scope(catalog) as session:
        session.get(Offering, "gef-trust-fund").title = "A different title"
    before = encoder.encoded
    with session_scope(catalog) as session:
        stale = make_service(tmp_path, encoder)
        stale.load(session)
    assert sorted(stale.indexes.repaired) == [ENGLISH, MULTILINGUAL] and stale.indexes.rebuilt == []
    assert encoder.encoded - before == 1  # the new text (both roles share the encoder's cache)
    assert stale.artefacts_loaded
    # Without the saved artefacts nothing says what a stale index holds: it is rebuilt.
    with session_scope(catalog) as session:
        session.get(Offering, "gef-trust-fund").title = "Yet another title"
    shutil.rmtree(tmp_path / "index" / "engine")
    with session_scope(catalog) as session:
        stale = make_service(tmp_path, encoder)
        stale.load(session)
    assert sorted(stale.indexes.rebuilt) == [ENGLISH, MULTILINGUAL]
    # A damaged file is detected too.
    directory = tmp_path / "index" / f"offerings-{ENGLISH}"
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / manifest["index_file"]).write_bytes(b"not a faiss index")
    with session_scope(catalog) as session:
        repaired = make_service(tmp_path, encoder)
        repaired.load(session)
    assert repaired.indexes.rebuilt == [ENGLISH]


def test_added_changed_and_deactivated_offerings_show_in_the_next_ranking(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    encoder = CountingEncoder()
    need = make_need(
        title="Zebrafish mercury biomarkers", description="Zebrafish mercury biomarkers laboratory work."
    )
    with session_scope(catalog) as session:
        service = make_service(tmp_path, encoder)
        service.load(session)
        kenya = party_profile(session.get(Party, "KEN"))
        session.add(
            Offering(
                id="zebrafish-lab",
                provider_id="unep",
                provider="UNEP",
                title="Zebrafish mercury biomarkers",
                description="Zebrafish mercury biomarkers laboratory work for any Party.",
                sectors=["research-monitoring"],
                assistance_types=["data"],
            )
        )
        session.flush()
        service.offering_changed(session, "zebrafish-lab")
        assert service.rank_need(session, need, kenya, today=TODAY).results[0].offering.id == "zebrafish-lab"

        session.get(Offering, "zebrafish-lab").regions = ["weog"]
        session.flush()
        service.offering_changed(session, "zebrafish-lab")
        ranking = service.rank_need(session, need, kenya, today=TODAY)
        assert "zebrafish-lab" not in [result.offering.id for result in ranking.results]

        row = session.get(Offering, "zebrafish-lab")
        row.regions, row.active = [], False
        session.flush()
        service.offering_changed(session, "zebrafish-lab")
        assert "zebrafish-lab" not in [
            result.offering.id for result in service.rank_need(session, need, kenya).results
        ]
        assert all(len(index) == 76 for index in service.indexes.indexes.values())
    # What was saved matches the database, so a restart reuses it.
    with session_scope(catalog) as session:
        restarted = make_service(tmp_path, encoder)
        restarted.load(session)
    assert restarted.indexes.rebuilt == []


def _add_need(session: Session, need_id: str, party: str, **fields: object) -> None:
    values = {
        "title": "Amalgam separators for dental clinics",
        "description": "Our dental clinics need amalgam separators and training to phase down amalgam.",
        "language": "en",
        **fields,
    }
    session.add(Need(id=need_id, party_iso3=party, **values))
    session.flush()


def test_donor_view_respects_eligibility_confidentiality_and_agrees_with_the_need_view(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    encoder = CountingEncoder()
    with session_scope(catalog) as session:
        service = make_service(tmp_path, encoder)
        service.load(session)
        session.add(
            Offering(
                id="amalgam-africa",
                provider_id="unep",
                provider="UNEP",
                title="Amalgam separators for clinics",
                description="Amalgam separators and dentist training for clinics in Africa.",
                sectors=["dental-amalgam"],
                regions=["africa"],
                eligible_status=["developing"],
            )
        )
        session.flush()
        service.offering_changed(session, "amalgam-africa")
        _add_need(session, "n-kenya", "KEN")
        _add_need(session, "n-kenya-secret", "KEN", confidential=True)
        _add_need(session, "n-peru", "PER")  # outside the offering's region
        _add_need(session, "n-kenya-withdrawn", "KEN", status="withdrawn")
        _add_need(session, "n-kenya-matched", "KEN", status="matched")
        for need_id in ("n-kenya", "n-kenya-secret", "n-peru", "n-kenya-withdrawn", "n-kenya-matched"):
            service.need_changed(session, need_id)

        everyone = service.rank_needs_for_offering(session, "amalgam-africa", today=TODAY)
        assert {result.need_id for result in everyone} == {"n-kenya", "n-kenya-secret"}
        public = service.rank_needs_for_offering(
            session, "amalgam-africa", include_confidential=False, today=TODAY
        )
        assert [result.need_id for result in public] == ["n-kenya"]

        # The donor view's score is the score the offering gets in the need's own ranking.
        need = need_profile(session.get(Need, "n-kenya"))
        forward = service.rank_need(
            session, need, party_profile(session.get(Party, "KEN")), k=80, today=TODAY
        )
        mine = next(item for item in forward.results if item.offering.id == "amalgam-africa")
        assert public[0].score == pytest.approx(mine.score)
        assert public[0].explanation["matched"] == mine.explanation["matched"]
        assert public[0].as_result()["need_id"] == "n-kenya"

        # Open needs are kept prepared; a withdrawal takes the need out.
        assert "n-kenya" in service.state.needs and "n-kenya-withdrawn" not in service.state.needs
        session.get(Need, "n-kenya").status = "withdrawn"
        session.flush()
        service.need_changed(session, "n-kenya")
        assert "n-kenya" not in service.state.needs
        assert [
            r.need_id for r in service.rank_needs_for_offering(session, "amalgam-africa", today=TODAY)
        ] == ["n-kenya-secret"]


def test_the_evaluation_and_the_service_rank_alike(catalog: sessionmaker[Session], tmp_path: Path) -> None:
    """``matcher eval`` measures the pipeline the service ships: both build their engine with
    the one builder, so on the same catalogue and encoder they give the same rankings."""
    encoder = FakeEncoder(64)
    data = load_labelled_set()
    engine = systems.build_engine(
        data, {MULTILINGUAL: encoder, ENGLISH: encoder}, VectorCache(None), load_taxonomy(), RankingWeights()
    )
    with session_scope(catalog) as session:
        service = MatchingService(encoders={MULTILINGUAL: encoder, ENGLISH: encoder}, index_dir=tmp_path)
        service.load(session)
        for need in data.needs[:8]:
            party = data.parties[need.party]
            query = engine.prepare(need)
            vectors = embed_query(query, service.encoders, VectorCache(None).embed)
            evaluated = engine.rank(query, party, need_vectors=vectors, today=TODAY)
            served = service.rank_need(session, need, party, today=TODAY)
            assert [item.as_result() for item in evaluated.results] == [
                item.as_result() for item in served.results
            ], need.id


@pytest.fixture
def tag_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = KeywordTagger.tag

    def counting(self: KeywordTagger, text: str, language: str | None = None) -> TagEvidence:
        calls.append(text)
        return original(self, text, language)

    monkeypatch.setattr(KeywordTagger, "tag", counting)
    return calls


def test_a_need_is_tagged_once_for_ranking_the_donor_view_and_coaching(
    catalog: sessionmaker[Session], tmp_path: Path, tag_calls: list[str]
) -> None:
    with session_scope(catalog) as session:
        service = make_service(tmp_path, CountingEncoder())
        service.load(session)
        _add_need(session, "n-kenya", "KEN")
        tag_calls.clear()
        service.need_changed(session, "n-kenya")  # prepares the open need for the donor view
        need = need_profile(session.get(Need, "n-kenya"))
        kenya = party_profile(session.get(Party, "KEN"))
        query = service.prepare(need)
        ranking = service.rank_need(session, query, kenya, today=TODAY)
        assert ranking.query is query
        RequestReader().assess(ranking.query)
        assert service.prepare(need) is query  # a page preparing it again gets the same query
        assert service.rank_need(session, need, kenya, k=3, today=TODAY).query is query
        service.rank_needs_for_offering(session, ranking.results[0].offering.id, today=TODAY)
        assert tag_calls == [need.text]


def test_ranking_before_load_is_a_clear_error(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    service = make_service(tmp_path, CountingEncoder())
    with session_scope(sessions) as session, pytest.raises(EngineNotLoadedError, match="call load"):
        service.rank_need(session, make_need(), make_party())


def test_a_session_that_wrote_never_waits_for_the_services_lock(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    """A request that has written (and so holds the database's write lock: SQLite's one
    writer, or a row lock on PostgreSQL) and then reads through the service must not wait
    for the service's lock: its holder may be waiting for that write lock to cache an
    embedding (``sync`` does), and neither would move. Under a mixed load on ``matcher
    serve`` (SQLite) such pairs stood still until the 30 s busy timeout failed one of them."""
    service = make_service(tmp_path, CountingEncoder())
    with session_scope(catalog) as session:
        service.load(session)
    encoder = service.encoders[MULTILINGUAL]
    text = "A text two sessions cache at once."
    holding = threading.Event()
    failures: list[BaseException] = []

    def holder() -> None:  # as ``sync`` does: under the service's lock, caching an embedding
        try:
            with service.lock, catalog() as other:
                holding.set()
                embed_cached(other, encoder, [text])
                other.commit()
        except BaseException as problem:
            failures.append(problem)

    def writer() -> None:
        try:
            with catalog() as session:
                embed_cached(session, encoder, [text])  # written, not committed: the write lock
                thread = threading.Thread(target=holder, daemon=True)
                thread.start()
                assert holding.wait(10)
                service.sync(session)  # must not wait for the holder
                session.commit()
            thread.join(20)
            assert not thread.is_alive()
        except BaseException as problem:
            failures.append(problem)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    thread.join(25)  # below SQLite's busy timeout (30 s): a deadlock cannot resolve itself first
    assert not thread.is_alive(), "the writer and the lock's holder waited for each other"
    assert failures == []
    with catalog() as session:
        assert session.scalar(select(func.count()).select_from(CachedEmbedding)) >= 1
