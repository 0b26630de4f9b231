"""Delivering the outbox to a real SMTP server (aiosmtpd, ``tests/smtp.py``): at least once,
marked once, retried after failures, digests, and one sender at a time; on both engines."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from matcher.services.access import Principal
from matcher.services.mail import SmtpTarget, masked_url
from matcher.services.notifications import (
    NotificationSender,
    deliver_pending,
    latest_digest_time,
    queue_notice,
    retry_delay,
    set_digest,
)
from matcher.settings import Settings, get_settings
from matcher.store.db import session_scope
from matcher.store.models import Outbox, utcnow
from tests.services.notify_world import KENYA_DESK, KENYA_FOCAL, add_need, build_world
from tests.smtp import SmtpServer


def settings_for(server: SmtpServer | None, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "smtp_url": server.url if server is not None else None,
        "smtp_timeout_seconds": 5,
        "notify_poll_seconds": 0.1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def queue_needs(
    sessions: sessionmaker[Session], count: int, *, world: bool = True, first: int = 0
) -> list[int]:
    """``count`` needs of KEN, each received: two notices each (the Party's desk and its key)."""
    with session_scope(sessions) as session:
        if world:
            build_world(session)
        rows = []
        for number in range(first, first + count):
            rows += queue_notice(session, "need.received", need=add_need(session, f"need-{number}"))
        session.flush()
        return [row.id for row in rows]


def outbox(sessions: sessionmaker[Session]) -> list[Outbox]:
    with sessions() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_without_an_smtp_url_nothing_is_sent_and_notices_wait(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    queue_needs(sessions, 2)
    report = deliver_pending(sessions, settings_for(None, tmp_path))
    assert (
        report.sent == 0 and report.waiting == 4 and "MATCHER_SMTP_URL is not set" in (report.skipped or "")
    )
    assert smtp_server.received == []
    assert all(row.sent_at is None and row.attempts == 0 for row in outbox(sessions))


def test_each_notice_arrives_once_with_its_message_id(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHER_PUBLIC_URL", "https://match.example.org")
    get_settings.cache_clear()
    queue_needs(sessions, 3)
    settings = settings_for(smtp_server, tmp_path)
    report = deliver_pending(sessions, settings)
    assert (report.sent, report.failed, report.waiting) == (6, 0, 0)
    assert report.summary() == "notices: 6 sent, 0 failed, 0 waiting"
    rows = outbox(sessions)
    assert smtp_server.message_ids() == {row.message_id: 1 for row in rows}
    for row in rows:
        assert row.sent_at is not None and row.attempts == 1 and row.claimed_by is None
        (received,) = [item for item in smtp_server.received if item.message_id == row.message_id]
        assert received.recipients == (row.recipient,)
        assert received.sender == "no-reply@localhost"
        assert received.subject == row.subject
        assert row.body in received.body and "https://match.example.org/account" in received.body
        assert "https://match.example.org/needs/" in received.body
        assert received.message["Auto-Submitted"] == "auto-generated"
    assert deliver_pending(sessions, settings).sent == 0  # nothing is sent twice


def test_non_latin_text_survives_the_trip(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with session_scope(sessions) as session:
        build_world(session)
        need = add_need(session, language="ar", title="نفايات الزئبق في المستشفيات")
        queue_notice(session, "need.received", need=need)
    deliver_pending(sessions, settings_for(smtp_server, tmp_path))
    received = smtp_server.to(KENYA_DESK)[0]
    assert received.subject == "تم استلام طلبكم: نفايات الزئبق في المستشفيات"
    assert "أمانة اتفاقية ميناماتا" in received.body


def test_a_refused_message_is_retried_later_with_the_error_kept(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    queue_needs(sessions, 1)
    settings = settings_for(smtp_server, tmp_path)
    smtp_server.refuse("451 4.3.0 Mailbox busy, try again later", count=1)
    now = utcnow()
    first = deliver_pending(sessions, settings, now=now)
    assert (first.sent, first.failed) == (1, 1)
    failed = next(row for row in outbox(sessions) if row.sent_at is None)
    assert failed.attempts == 1 and "451" in (failed.last_error or "") and failed.claimed_by is None
    assert failed.deliver_after == now + dt.timedelta(seconds=30)
    assert deliver_pending(sessions, settings, now=now + dt.timedelta(seconds=29)).sent == 0  # backing off
    again = deliver_pending(sessions, settings, now=now + dt.timedelta(seconds=31))
    assert (again.sent, again.waiting) == (1, 0)
    retried = next(row for row in outbox(sessions) if row.id == failed.id)
    assert retried.attempts == 2 and retried.sent_at is not None and retried.last_error is None
    assert smtp_server.message_ids()[retried.message_id] == 1


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [retry_delay(attempts).total_seconds() for attempts in (1, 2, 3, 8, 50)] == [
        30,
        60,
        120,
        3600,
        3600,
    ]


def test_a_server_that_is_down_loses_nothing(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    queue_needs(sessions, 2)
    settings = settings_for(smtp_server, tmp_path)
    smtp_server.stop()
    down = deliver_pending(sessions, settings)
    assert down.sent == 0 and down.waiting == 4
    assert down.error is not None and "cannot reach the SMTP server at smtp://127.0.0.1" in down.error
    assert all(row.sent_at is None and row.claimed_by is None for row in outbox(sessions))
    smtp_server.start()  # the same port: the server is back
    back = deliver_pending(sessions, settings)
    assert (back.sent, back.waiting) == (4, 0)
    assert sorted(smtp_server.message_ids().values()) == [1, 1, 1, 1]


def test_a_server_lost_mid_pass_ends_the_pass_and_the_rest_waits(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    queue_needs(sessions, 3)
    settings = settings_for(smtp_server, tmp_path)
    smtp_server.refuse("421 4.3.2 Service shutting down", count=1)  # 421 closes the connection
    report = deliver_pending(sessions, settings)
    assert report.failed == 1 and report.error is not None and report.sent == 0
    assert report.waiting == 6
    rows = outbox(sessions)
    assert [row.attempts for row in rows] == [1, 0, 0, 0, 0, 0]
    later = deliver_pending(sessions, settings, now=utcnow() + dt.timedelta(minutes=1))
    assert (later.sent, later.waiting) == (6, 0)


def test_a_digest_gathers_the_days_notices_at_the_digest_hour(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with session_scope(sessions) as session:
        world = build_world(session)
        set_digest(session, Principal(world.keys["ken"], "party", party="KEN"), KENYA_FOCAL, True)
    queue_needs(sessions, 2, world=False)
    settings = settings_for(smtp_server, tmp_path, digest_hour=7)
    created = max(row.created_at for row in outbox(sessions))
    digest_time = latest_digest_time(created, 7) + dt.timedelta(days=1)
    before = deliver_pending(sessions, settings, now=digest_time - dt.timedelta(minutes=1))
    assert before.sent == 2 and {item.recipients for item in smtp_server.received} == {(KENYA_DESK,)}
    report = deliver_pending(sessions, settings, now=digest_time + dt.timedelta(minutes=5))
    assert (report.sent, report.digests, report.waiting) == (2, 1, 0)
    (digest,) = smtp_server.to(KENYA_FOCAL)
    assert digest.subject == "Minamata Match: your daily digest (2 notices)"
    held = [row for row in outbox(sessions) if row.recipient == KENYA_FOCAL]
    assert len(held) == 2 and all(row.digest and row.sent_at is not None for row in held)
    assert {row.digest_message_id for row in held} == {digest.message_id}
    assert digest.message_id.startswith("<digest-")
    for row in held:
        assert row.subject in digest.body and row.body in digest.body
    # A notice written after today's digest waits for tomorrow's.
    later = queue_needs(sessions, 1, world=False, first=2)
    with session_scope(sessions) as session:
        session.execute(
            update(Outbox).where(Outbox.id.in_(later)).values(created_at=digest_time + dt.timedelta(hours=1))
        )
    assert deliver_pending(sessions, settings, now=digest_time + dt.timedelta(hours=2)).digests == 0
    tomorrow = deliver_pending(sessions, settings, now=digest_time + dt.timedelta(days=1))
    assert (tomorrow.digests, len(smtp_server.to(KENYA_FOCAL))) == (1, 2)


def test_turning_the_digest_off_releases_the_waiting_notices(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with session_scope(sessions) as session:
        world = build_world(session)
        set_digest(session, Principal(world.keys["ken"], "party", party="KEN"), KENYA_FOCAL, True)
    queue_needs(sessions, 2, world=False)
    settings = settings_for(smtp_server, tmp_path)
    deliver_pending(sessions, settings)
    assert smtp_server.to(KENYA_FOCAL) == []
    with session_scope(sessions) as session:
        set_digest(session, Principal(world.keys["ken"], "party", party="KEN"), KENYA_FOCAL, False)
    assert deliver_pending(sessions, settings).sent == 2
    assert len(smtp_server.to(KENYA_FOCAL)) == 2


def test_two_passes_at_once_send_each_notice_once(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Claims alone keep two concurrent passes apart (no lease involved)."""
    queue_needs(sessions, 10)
    smtp_server.delay = 0.02
    settings = settings_for(smtp_server, tmp_path)
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(deliver_pending(sessions, settings))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(report.sent for report in reports) == 20
    assert sorted(set(smtp_server.message_ids().values())) == [1]
    assert len(smtp_server.received) == 20
    assert all(row.attempts == 1 for row in outbox(sessions))


def test_only_the_lease_holder_sends(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    queue_needs(sessions, 10)
    smtp_server.delay = 0.05
    settings = settings_for(smtp_server, tmp_path, notify_lease_seconds=30)
    first = NotificationSender(sessions, settings, name="first")
    second = NotificationSender(sessions, settings, name="second")
    reports: dict[str, object] = {}
    started = threading.Event()

    def run_first() -> None:
        started.set()
        reports["first"] = first.drain()

    thread = threading.Thread(target=run_first)
    thread.start()
    started.wait()
    smtp_server.wait_for(1)  # the first holds the lease and is sending
    other = second.run_once()
    assert other.sent == 0 and other.skipped == "another sender holds the lease (first)"
    thread.join(60)
    assert len(smtp_server.received) == 20 and sorted(set(smtp_server.message_ids().values())) == [1]
    # drain gave the lease back: the second may send now (there is nothing left).
    assert second.run_once().skipped is None


def test_the_background_sender_delivers_and_stops(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = settings_for(smtp_server, tmp_path)
    sender = NotificationSender(sessions, settings)
    sender.start()
    try:
        queue_needs(sessions, 2)
        smtp_server.wait_for(4)
    finally:
        sender.stop()
    assert sender.holder() is None  # the lease was given back


def test_smtp_urls_are_parsed_and_never_shown_with_their_password() -> None:
    target = SmtpTarget.parse("smtp+starttls://mailer%40unep:s3cr%2Ft@mail.example.org")
    assert (target.host, target.port, target.username, target.password) == (
        "mail.example.org",
        587,
        "mailer@unep",
        "s3cr/t",
    )
    assert target.masked() == "smtp+starttls://mailer@unep:***@mail.example.org:587"
    assert "s3cr" not in repr(target)
    assert SmtpTarget.parse("smtps://relay:2465").port == 2465
    assert masked_url("smtp://user:password@host:25") == "smtp://user:***@host:25"
    with pytest.raises(ValueError, match="must look like") as refused:
        SmtpTarget.parse("http://user:hunter2@host")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ValueError, match="must look like"):
        NotificationSender(None, Settings(smtp_url="mail.example.org"))  # type: ignore[arg-type]
