"""History through the service: decisions and imports feed the next rankings, rejections
follow the run rules, the track record, and the learned re-ranker's training, promotion
(both ways), model version on proposals and rollback."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog.loaders import bundled_catalog_dir, bundled_catalog_files, load_files, load_history
from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL, FakeEncoder
from matcher.engine.ranking import Ranking
from matcher.services import review
from matcher.services.access import SYSTEM, Conflict
from matcher.services.history import past_needs, track_record
from matcher.services.matching import MatchingService, need_profile, party_profile
from matcher.services.reranking import active_reranker, list_models, rollback, train_model
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, Match, Need, Party, RankingModel, catalog_version

TODAY = dt.date(2026, 11, 28)
TEXT = (
    "Our health ministry must collect broken mercury thermometers and blood pressure devices from "
    "public hospitals and store the mercury waste safely until it can be exported for disposal."
)


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files())
    return sessions


def make_service(tmp_path: Path) -> MatchingService:
    encoder = FakeEncoder(64)
    return MatchingService(encoders={MULTILINGUAL: encoder, ENGLISH: encoder}, index_dir=tmp_path / "index")


def add_need(session: Session, need_id: str, party: str, text: str = TEXT) -> Need:
    need = Need(
        id=need_id, party_iso3=party, title="Mercury waste from hospitals", description=text, language="en"
    )
    session.add(need)
    session.flush()
    return need


def rank(service: MatchingService, session: Session, need_id: str, k: int = 20) -> Ranking:
    need = session.get(Need, need_id)
    assert need is not None
    return service.rank_need(session, need_profile(need), party_profile(need.party), k=k, today=TODAY)


def position(ranking: Ranking, offering_id: str) -> int:
    return [item.offering.id for item in ranking.results].index(offering_id)


def proposal(session: Session, need_id: str, offering_id: str) -> Match:
    match = session.scalar(select(Match).where(Match.need_id == need_id, Match.offering_id == offering_id))
    assert match is not None
    return match


def test_a_decision_in_the_workbench_changes_the_next_ranking_of_a_similar_need(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(catalog) as session:
        service = make_service(tmp_path)
        service.load(session)
        add_need(session, "n-kenya", "KEN")
        add_need(session, "n-uganda", "UGA")
        review.match_need(session, service, SYSTEM, session.get(Need, "n-kenya"), k=10, today=TODAY)
        before = rank(service, session, "n-uganda")
        chosen = before.results[6].offering.id  # proposed for Kenya, seventh for Uganda
        match = proposal(session, "n-kenya", chosen)
        session.commit()  # one transaction takes one catalogue version
        version = catalog_version(session)
        review.accept(session, SYSTEM, match.id, matching=service)
        assert catalog_version(session) > version
        after = rank(service, session, "n-uganda")
        lifted = after.results[position(after, chosen)]
        assert lifted.components["history_served"] > 0
        assert position(after, chosen) < position(before, chosen)
        assert lifted.score > before.results[6].score
        record = lifted.explanation["track_record"]
        assert record["examples"][0]["need_id"] == "n-kenya"
        assert record["examples"][0]["country"] == "Kenya"
        assert "similar project" in record["text"]
        # Kenya's own ranking is not lifted by its own decision.
        assert rank(service, session, "n-kenya").results[0].components["history_served"] == 0


def test_a_rejected_pairing_is_never_proposed_again_for_its_need_and_only_mildly_demoted_for_others(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(catalog) as session:
        service = make_service(tmp_path)
        service.load(session)
        add_need(session, "n-kenya", "KEN")
        add_need(session, "n-uganda", "UGA")
        review.match_need(session, service, SYSTEM, session.get(Need, "n-kenya"), k=10, today=TODAY)
        before = rank(service, session, "n-uganda")
        turned_down = before.results[0].offering.id
        match = proposal(session, "n-kenya", turned_down)
        session.commit()  # one transaction takes one catalogue version
        version = catalog_version(session)
        review.reject(
            session, SYSTEM, match.id, "Not relevant: they do not work in hospitals", matching=service
        )
        assert catalog_version(session) > version  # a rejection changes the history

        review.match_need(session, service, SYSTEM, session.get(Need, "n-kenya"), k=10, today=TODAY)
        kept = proposal(session, "n-kenya", turned_down)
        assert kept.state == "rejected"
        proposed = session.scalars(
            select(Match.offering_id).where(Match.need_id == "n-kenya", Match.state == "proposed")
        )
        assert turned_down not in set(proposed)

        after = rank(service, session, "n-uganda")
        demoted = after.results[position(after, turned_down)]
        demotion = demoted.components["history_rejected"]
        assert -0.1 <= demotion < 0
        assert position(after, turned_down) <= 2  # mildly: still near the top for Uganda
        assert demoted.explanation["track_record"]["declined_similar"] == {"not_relevant": 1}


def write_history(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_imported_history_is_read_as_past_needs_and_as_a_track_record(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    file = write_history(
        tmp_path / "history.jsonl",
        [
            {
                "id": "past-1",
                "party": "GHA",
                "title": "Mercury waste from hospitals",
                "description": TEXT,
                "language": "en",
                "sectors": ["waste"],
                "served_by": ["unido-mercury"],
                "declined": [{"offering_id": "gmp", "reason": "not relevant"}],
                "year": 2019,
            },
            {
                "id": "past-2",
                "party": "PER",
                "title": "Lamps",
                "description": "Lamp recycling.",
                "served_by": [],
            },
        ],
    )
    with session_scope(catalog) as session:
        load_history(session, [file])
        records = {record.need.id: record for record in past_needs(session)}
        assert set(records) == {"past-1", "past-2"}
        assert records["past-1"].served == ("unido-mercury",)
        assert records["past-1"].declined[0].kind == "not_relevant"
        assert records["past-1"].year == 2019 and records["past-1"].country == "Ghana"
        assert records["past-1"].shown_at == ()  # imported: no ranking showed it
        assert records["past-2"].served == ()  # a past request no one served
        service = make_service(tmp_path)
        service.load(session)
        assert len(service.history) == 2
        add_need(session, "n-kenya", "KEN")
        lifted = rank(service, session, "n-kenya", k=76)
        unido = lifted.results[position(lifted, "unido-mercury")]
        assert unido.components["history_served"] > 0
        record = track_record(session, SYSTEM, "unido-mercury")
        assert record["served"] == 1 and record["countries"] == {"Ghana": 1}
        assert record["needs"][0]["imported"] and record["needs"][0]["year"] == 2019
        assert track_record(session, SYSTEM, "gmp")["declined"] == {"not_relevant": 1}


TOPICS = {
    "waste": "collection and storage of mercury waste from hospitals",
    "mining": "artisanal gold mining with mercury retorts",
    "lamps": "recycling of fluorescent lamps containing mercury",
    "dental": "dental amalgam separators for clinics",
    "cement": "stack emissions of cement kilns",
    "coal": "mercury emissions of coal power plants",
}


def topic_store(sessions: sessionmaker[Session], tmp_path: Path, served_kind: str) -> None:
    """Parties, then per topic a verified generalist and an unverified specialist doing the
    same work (the hand-set weights put the verified one first), and two past needs per
    topic served by the ``served_kind`` one."""
    offerings = tmp_path / "offerings.jsonl"
    offerings.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"{topic}-{kind}",
                    "provider": f"{topic} {kind}",
                    "title": f"{topic} programme",
                    "description": f"Support for {text}.",
                    "verified": kind == "general",
                }
            )
            + "\n"
            for topic, text in TOPICS.items()
            for kind in ("general", "specialist")
        ),
        encoding="utf-8",
    )
    history = write_history(
        tmp_path / "history.jsonl",
        [
            {
                "id": f"past-{topic}-{n}",
                "party": "KEN",
                "title": topic,
                "description": f"We need help with {text}. Case {n}.",
                "language": "en",
                "served_by": [f"{topic}-{served_kind}"],
            }
            for topic, text in TOPICS.items()
            for n in (1, 2)
        ],
    )
    with session_scope(sessions) as session:
        load_files(session, [bundled_catalog_dir() / "parties.csv", offerings])
        load_history(session, [history])


def test_a_model_that_beats_the_hand_set_weights_is_promoted_orders_proposals_and_rolls_back(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic_store(sessions, tmp_path, "specialist")
    with session_scope(sessions) as session:
        service = make_service(tmp_path)
        service.load(session)
        report = train_model(session, service, SYSTEM, today=TODAY)
        assert report.promoted, report.reason
        assert report.model.state == "active" and report.model.version == "model-1"
        assert report.model.evaluation["difference"] > 0 and report.model.evaluation["interval"][0] > 0
        assert report.model.evaluation["groups"] == len(TOPICS)
        assert "promoted" in report.lines()[0]
    with session_scope(sessions) as session:
        service.history_changed(session)
        assert service.reranker is not None and service.reranker.version == "model-1"
        need = add_need(session, "n-kenya", "KEN", text=f"We need help with {TOPICS['waste']}.")
        review.match_need(session, service, SYSTEM, need, k=2, today=TODAY)
        proposals = session.scalars(
            select(Match).where(Match.need_id == "n-kenya").order_by(Match.rank)
        ).all()
        assert [p.offering_id for p in proposals] == ["waste-specialist", "waste-general"]
        assert {p.model_version for p in proposals} == {"model-1"}
        # Scores keep the hand-set scale: the model only orders.
        assert proposals[0].score < proposals[1].score
        actions = [event.action for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert "model.train" in actions and "model.promote" in actions
        session.commit()  # one transaction takes one catalogue version
        version = catalog_version(session)
        retired, restored = rollback(session, SYSTEM)
        assert (retired.version, retired.state, restored) == ("model-1", "retired", None)
        assert catalog_version(session) > version
        assert active_reranker(session) is None
        assert session.scalars(select(AuditEvent.action).where(AuditEvent.action == "model.rollback")).one()
        with pytest.raises(Conflict, match="hand-set"):
            rollback(session, SYSTEM)


def test_a_model_no_better_than_the_hand_set_weights_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic_store(sessions, tmp_path, "general")
    with session_scope(sessions) as session:
        service = make_service(tmp_path)
        service.load(session)
        report = train_model(session, service, SYSTEM, today=TODAY)
        assert not report.promoted
        assert report.model.state == "refused"
        assert report.reason.startswith("does not beat the hand-set weights")
        assert active_reranker(session) is None
        assert [model.state for model in list_models(session)] == ["refused"]
        assert session.scalar(select(RankingModel.promoted_at)) is None
        need = add_need(session, "n-kenya", "KEN", text=f"We need help with {TOPICS['waste']}.")
        review.match_need(session, service, SYSTEM, need, k=2, today=TODAY)
        assert {
            m.model_version for m in session.scalars(select(Match).where(Match.need_id == "n-kenya"))
        } == {"hand-set"}


def test_a_rollback_restores_the_model_promoted_before(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic_store(sessions, tmp_path, "specialist")
    with session_scope(sessions) as session:
        service = make_service(tmp_path)
        service.load(session)
        first = train_model(session, service, SYSTEM, today=TODAY).model
        second = train_model(session, service, SYSTEM, today=TODAY).model
        assert (first.state, second.state) == ("retired", "active")
        retired, restored = rollback(session, SYSTEM)
        assert retired.id == second.id and restored is not None and restored.id == first.id
        assert active_reranker(session).version == first.version  # type: ignore[union-attr]
        assert session.get(Party, "KEN") is not None
