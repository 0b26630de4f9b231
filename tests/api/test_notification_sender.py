"""The notification sender inside the app: the lifespan starts it when MATCHER_SMTP_URL is
set and stops it at shutdown, giving the lease back (fake encoders: the models are not what
is tested)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from matcher.api.app import create_app
from matcher.services.notifications import LEASE, queue_notice
from matcher.settings import Settings
from matcher.store.db import session_scope
from matcher.store.models import Party, WorkerLease, utcnow
from tests.services.notify_world import add_need
from tests.smtp import SmtpServer


def test_the_sender_in_serve_delivers_and_stops_with_the_app(tmp_path: Path, smtp_server: SmtpServer) -> None:
    data_dir = tmp_path / "d"
    url = f"sqlite:///{data_dir / 'matcher.sqlite3'}"
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        multilingual_encoder="fake",
        english_encoder="fake",
        smtp_url=smtp_server.url,  # type: ignore[arg-type]
        notify_poll_seconds=0.1,
    )
    app = create_app(settings)
    with TestClient(app):
        sessions = app.state.store.sessions
        _queue_in_seeded_store(sessions)
        smtp_server.wait_for(1, timeout=20)
        assert app.state.notifications is not None
    with sessions() as session:
        lease = session.get(WorkerLease, LEASE)
        assert lease is not None and lease.expires_at <= utcnow()  # given back at shutdown


def _queue_in_seeded_store(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        kenya = session.get(Party, "KEN")
        assert kenya is not None
        kenya.email = "mercury@environment.go.ke"
        queue_notice(session, "need.received", need=add_need(session, "need-serve"))
