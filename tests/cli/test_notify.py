"""`matcher notify run` and `matcher keys create --email` as real processes, against a real
SMTP server; the crash test kills a sender mid-delivery and checks nothing is lost."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from matcher.services.notifications import queue_notice
from matcher.store.db import create_db_engine, make_session_factory, session_scope, upgrade
from matcher.store.models import Outbox
from tests.cli.test_cli import MATCHER, run
from tests.services.notify_world import add_need, build_world
from tests.smtp import SmtpServer

pytestmark = pytest.mark.slow  # each test runs the `matcher` command in a subprocess


def test_notify_run_explains_itself(tmp_path: Path) -> None:
    text = run("notify", "run", "--help", data_dir=tmp_path / "d").stdout
    for words in (
        "--once",
        "MATCHER_SMTP_URL",
        "at least once",
        "Message-ID",
        "lease",
        "MATCHER_DIGEST_HOUR",
    ):
        assert words in " ".join(text.split()), words


def test_keys_create_takes_an_email(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    created = run(
        "keys",
        "create",
        "--role",
        "party",
        "--party",
        "ken",
        "--email",
        "Focal@Environment.go.ke",
        data_dir=data_dir,
    )
    key_id = created.stdout.splitlines()[0].split()[2]
    listing = run("keys", "list", data_dir=data_dir).stdout.splitlines()
    assert listing[0] == "id\trole\tscope\tstate\tlabel\temail"
    assert f"{key_id}\tparty\tKEN\tactive\t\tfocal@environment.go.ke" in listing
    refused = run("keys", "create", "--role", "admin", "--email", "nobody", data_dir=data_dir, check=False)
    assert refused.returncode == 2 and "is not an e-mail address" in refused.stderr


def test_notify_run_once_without_an_smtp_url_sends_nothing(tmp_path: Path) -> None:
    result = run("notify", "run", "--once", data_dir=tmp_path / "d")
    assert result.stdout.strip() == (
        "notices: 0 sent, 0 failed, 0 waiting; nothing sent: MATCHER_SMTP_URL is not set, "
        "so notices wait in the outbox"
    )
    loop = run("notify", "run", data_dir=tmp_path / "d", check=False)
    assert loop.returncode == 2 and "MATCHER_SMTP_URL is not set" in loop.stderr


def test_notify_run_once_reports_an_unreachable_server_without_its_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    url = f"sqlite:///{data_dir / 'matcher.sqlite3'}"
    sessions = _store(url)
    _queue(sessions, 1)
    closed_port = SmtpServer().port  # nothing listens there
    result = run(
        "notify", "run", "--once", data_dir=data_dir, check=False,
        MATCHER_SMTP_URL=f"smtp://mailer:hunter2@127.0.0.1:{closed_port}",
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot reach the SMTP server at smtp://mailer:***@127.0.0.1:{closed_port}" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert "2 waiting" in result.stdout


def _store(url: str) -> sessionmaker[Session]:
    engine = create_db_engine(url)
    upgrade(engine)
    return make_session_factory(engine)


def _queue(sessions: sessionmaker[Session], needs: int) -> list[str]:
    """Two notices per need (the Party's address and its key's): their Message-IDs."""
    with session_scope(sessions) as session:
        build_world(session)
        rows = []
        for number in range(needs):
            rows += queue_notice(session, "need.received", need=add_need(session, f"need-{number}"))
        return [row.message_id for row in rows]


def _rows(sessions: sessionmaker[Session]) -> dict[str, Outbox]:
    with sessions() as session:
        return {row.message_id: row for row in session.scalars(select(Outbox))}


def test_killing_the_sender_mid_delivery_loses_nothing(
    database_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """20 notices; the sender is killed (SIGKILL) while the server holds a message it has not
    yet answered; restarted with --once until nothing waits. Every Message-ID arrives at least
    once, the interrupted one twice (same Message-ID), and every row is marked sent once."""
    sessions = _store(database_url)
    message_ids = _queue(sessions, 10)
    assert len(message_ids) == 20
    smtp_server.delay = 0.3  # the server takes 0.3 s to answer each message it already has
    environment = {
        **os.environ,
        "MATCHER_DATA_DIR": str(tmp_path / "d"),
        "MATCHER_DATABASE_URL": database_url,
        "MATCHER_SMTP_URL": smtp_server.url,
        "MATCHER_NOTIFY_LEASE_SECONDS": "2",
        "MATCHER_NOTIFY_POLL_SECONDS": "0.2",
    }
    sender = subprocess.Popen(
        [MATCHER, "notify", "run"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        in_flight: set[str] = set()
        while time.monotonic() < deadline:
            received = set(smtp_server.message_ids())
            marked = {message_id for message_id, row in _rows(sessions).items() if row.sent_at is not None}
            in_flight = received - marked
            if len(marked) >= 5 and in_flight:
                break
            time.sleep(0.02)
        else:
            raise AssertionError(
                "the sender never got going: " + (sender.stderr.read() if sender.stderr else "")
            )
        sender.kill()  # SIGKILL: no clean-up, the lease and the claim stay behind
        sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
    before = _rows(sessions)
    marked_before = {message_id: row.sent_at for message_id, row in before.items() if row.sent_at is not None}
    assert 5 <= len(marked_before) < 20 and len(in_flight) == 1
    assert all(before[message_id].sent_at is None for message_id in in_flight)

    summaries = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        restarted = subprocess.run(
            [MATCHER, "notify", "run", "--once"], env=environment, capture_output=True, text=True, timeout=120
        )
        assert restarted.returncode == 0, restarted.stderr
        summaries.append(restarted.stdout.strip())
        if summaries[-1].endswith(" 0 waiting"):
            break
        time.sleep(0.5)  # the dead sender's lease or claim has not run out yet
    else:
        raise AssertionError(f"notices still waiting: {summaries}")

    counts = smtp_server.message_ids()
    assert set(counts) == set(message_ids)  # every notice arrived
    assert {message_id for message_id, count in counts.items() if count > 1} == in_flight
    assert counts[next(iter(in_flight))] == 2
    after = _rows(sessions)
    for message_id, row in after.items():
        assert row.sent_at is not None and row.claimed_by is None, message_id
        if message_id in marked_before:  # marked once: a later run did not send or mark it again
            assert row.sent_at == marked_before[message_id] and row.attempts == 1
        elif message_id in in_flight:
            assert row.attempts == 2  # claimed by the killed sender, then by the restarted one
        else:
            assert row.attempts == 1
    assert sum(counts.values()) == 21
