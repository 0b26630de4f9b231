"""Queueing notices: who gets each event, in which language, with what content; on both
database engines."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from matcher.services.access import Principal
from matcher.services.notice_texts import PARTY, PARTY_LANGUAGES
from matcher.services.notifications import EVENTS, queue_notice, set_digest
from matcher.settings import get_settings
from matcher.store.db import session_scope
from matcher.store.models import ApiKey, Outbox, Party
from tests.services.notify_world import (
    ADMIN,
    KENYA_DESK,
    KENYA_FOCAL,
    SECRET_TEXT,
    SECRETARIAT,
    UNEP_DESK,
    UNEP_OFFICER,
    World,
    add_interest,
    add_match,
    add_need,
    build_world,
)


@pytest.fixture
def world(session: Session) -> World:
    built = build_world(session)
    session.commit()
    return built


def addressed(rows: list[Outbox]) -> dict[str, str]:
    return {row.recipient: row.recipient_label for row in rows}


def test_each_event_reaches_its_recipients(session: Session, world: World) -> None:
    need = add_need(session)
    match = add_match(session, need)
    party = {KENYA_DESK: "party:KEN", KENYA_FOCAL: world.key_label("ken")}
    provider = {UNEP_DESK: "provider:unep", UNEP_OFFICER: world.key_label("unep")}
    secretariat = {SECRETARIAT: world.key_label("secretariat"), ADMIN: world.key_label("admin")}
    expected = {
        "need.received": party,
        "need.status": party,
        "need.idle": party,
        "proposal.accepted": {**party, **provider},
        "proposal.introduced": {**party, **provider},
        "interest.expressed": secretariat,
        "need.fits_programme": provider,
    }
    assert set(expected) == set(EVENTS)
    for event, recipients in expected.items():
        rows = queue_notice(
            session,
            event,
            need=need,
            match=match,
            interest=add_interest(session, need) if event == "interest.expressed" else None,
            details={"from": "submitted", "to": "in_review"},
        )
        assert addressed(rows) == recipients, event
        assert all(row.event == event and row.need_id == need.id for row in rows)
        assert all(row.message_id.startswith("<notice-") and row.message_id.endswith(">") for row in rows)
    session.commit()
    # A revoked key, another Party's key, another provider's key and a key without an
    # address never get anything.
    recipients = set(session.scalars(select(Outbox.recipient)))
    assert not recipients & {"old.focal@environment.go.ke", "punto.focal@minam.gob.pe", "desk@undp.org"}
    assert len(set(session.scalars(select(Outbox.message_id)))) == session.query(Outbox).count()


def test_a_party_reads_its_notices_in_the_needs_language(session: Session, world: World) -> None:
    need = add_need(session, language="fr", title="Déchets de mercure des hôpitaux")
    received = queue_notice(session, "need.received", need=need)
    assert {row.language for row in received} == {"fr"}
    assert received[0].subject == "Votre demande a bien été reçue : Déchets de mercure des hôpitaux"
    assert "/needs/need-1" in received[0].body
    status = queue_notice(session, "need.status", need=need, details={"from": "submitted", "to": "in_review"})
    assert "est passé de « soumise » à « en examen »" in status[0].body
    match = add_match(session, need)
    accepted = queue_notice(session, "proposal.accepted", match=match)
    by_label = {row.recipient_label: row for row in accepted}
    assert by_label["party:KEN"].language == "fr"
    assert "Mercury waste management support — UNEP" in by_label["party:KEN"].body
    assert by_label["provider:unep"].language == "en"  # providers read English
    assert (
        by_label["provider:unep"].subject
        == "Your programme was proposed for a request: Mercury waste management support"
    )
    introduced = queue_notice(session, "proposal.introduced", match=match)
    party_text = next(row.body for row in introduced if row.recipient_label == "party:KEN")
    assert "Contact : Jane Doe, mercury@unep.org" in party_text
    assert "Comment présenter une demande : Send a concept note of two pages." in party_text
    unknown = add_need(session, "need-2", language=None)
    assert queue_notice(session, "need.received", need=unknown)[0].language == "en"


@pytest.mark.parametrize("language", PARTY_LANGUAGES)
def test_every_party_notice_exists_in_every_un_language(
    session: Session, world: World, language: str
) -> None:
    need = add_need(session, language=language, title=f"Title in {language}")
    match = add_match(session, need)
    for event in PARTY:
        rows = queue_notice(
            session, event, need=need, match=match, details={"from": "submitted", "to": "matched", "days": 90}
        )
        party_row = next(row for row in rows if row.recipient_label == "party:KEN")
        assert party_row.language == language
        assert f"Title in {language}" in party_row.subject and "/needs/need-1" in party_row.body
        if language != "en":
            english = PARTY[event]["en"][0].split("{")[0]
            assert english not in party_row.subject, (event, language)


def test_links_are_absolute_with_a_public_url(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHER_PUBLIC_URL", "https://match.example.org/")
    monkeypatch.setenv("MATCHER_MAIL_FROM", "Minamata Match <notices@match.example.org>")
    get_settings.cache_clear()
    need = add_need(session)
    rows = queue_notice(session, "need.idle", need=need, details={"days": 45})
    assert "https://match.example.org/needs/need-1" in rows[0].body
    assert "for 45 days" in rows[0].body
    assert rows[0].message_id.endswith("@match.example.org>")


def test_a_confidential_need_never_reaches_a_provider_beyond_title_and_party(
    session: Session, world: World
) -> None:
    secret = add_need(session, "need-secret", confidential=True, description=SECRET_TEXT, budget_usd=987654.0)
    match = add_match(session, secret)
    assert queue_notice(session, "need.fits_programme", match=match) == []
    for event in ("proposal.accepted", "proposal.introduced"):
        rows = queue_notice(session, event, match=match)
        for row in rows:
            if row.recipient_label in ("provider:unep", world.key_label("unep")):
                assert "Mercury waste from hospitals" in row.body and "Kenya" in row.body
                assert "Stockpile" not in row.body and "987" not in row.body
                assert "/needs/need-secret" not in row.body and "/programmes" in row.body
                assert "confidential" in row.body
    # An open need's description and budget may be read by the provider.
    open_need = add_need(session, "need-open")
    fits = queue_notice(session, "need.fits_programme", match=add_match(session, open_need))
    assert "interim storage" in fits[0].body and "USD 150,000" in fits[0].body


def test_one_address_gets_one_copy(session: Session, world: World) -> None:
    # The Party's focal point key shares the Party's address; the provider's officer uses it too.
    for key_id in (world.keys["ken"], world.keys["unep"]):
        key = session.get(ApiKey, key_id)
        assert key is not None
        key.email = KENYA_DESK
    session.flush()
    need = add_need(session)
    rows = queue_notice(session, "proposal.accepted", match=add_match(session, need))
    assert addressed(rows) == {KENYA_DESK: "party:KEN", UNEP_DESK: "provider:unep"}


def test_queueing_only_adds_rows_to_the_callers_transaction(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        build_world(session)
        add_need(session)
    with sessions() as session:
        need = add_need(session, "need-2")
        queue_notice(session, "need.received", need=need)
        session.rollback()  # the event did not happen: neither did its notices
    with sessions() as session:
        assert session.query(Outbox).count() == 0


def test_nobody_to_tell_queues_nothing(session: Session, world: World) -> None:
    need = add_need(session, party_iso3="PER")
    party = session.get(Party, "PER")
    assert party is not None and party.email is None
    key = session.get(ApiKey, world.keys["per"])
    assert key is not None
    key.email = None
    assert queue_notice(session, "need.received", need=need) == []


def test_mistakes_of_the_caller_are_errors(session: Session, world: World) -> None:
    need = add_need(session)
    with pytest.raises(ValueError, match="unknown notice event"):
        queue_notice(session, "need.exploded", need=need)
    with pytest.raises(ValueError, match="needs match="):
        queue_notice(session, "proposal.accepted", need=need)
    with pytest.raises(ValueError, match="needs interest="):
        queue_notice(session, "interest.expressed", need=need)
    with pytest.raises(ValueError, match="details"):
        queue_notice(session, "need.status", need=need)


def test_the_interest_notice_tells_the_secretariat_what_was_said(session: Session, world: World) -> None:
    need = add_need(session)
    interest = add_interest(session, need, note="We fund hospital waste projects in East Africa.")
    rows = queue_notice(session, "interest.expressed", interest=interest)
    assert rows[0].subject == "Interest expressed: UNEP for Mercury waste from hospitals"
    assert 'Their note: "We fund hospital waste projects in East Africa."' in rows[0].body


def test_a_digest_recipient_gets_rows_held_for_the_digest(session: Session, world: World) -> None:
    focal = Principal(key_id=world.keys["ken"], role="party", party="KEN")
    set_digest(session, focal, KENYA_FOCAL, True)
    need = add_need(session)
    rows = {row.recipient: row for row in queue_notice(session, "need.received", need=need)}
    assert rows[KENYA_FOCAL].digest and not rows[KENYA_DESK].digest
