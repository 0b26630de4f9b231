"""Keeping one process at the database's catalogue version, whoever wrote.

Each ``matcher serve`` process runs a ``CatalogFollower`` thread:

* on **PostgreSQL** it holds a connection that ``LISTEN``s on ``CATALOG_CHANNEL``: every
  committed catalogue write notifies it (``matcher.store.models``), and it applies the change
  at once (``MatchingService.sync``: the logged rows only);
* on **SQLite** (no notifications) it polls the version every ``poll_seconds``; on PostgreSQL
  the same poll runs as a fallback whenever no notice arrived within that time (a dropped
  connection is reopened).

Independently, every read polls the version before it answers (``MatchingService.ensure_fresh``,
at most once per ``freshness_seconds``), so a request never waits for this thread to be fresh.
The thread also saves the indexes and artefacts now and then (``MatchingService.checkpoint``),
so a restart starts from them.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from matcher.services.matching import MatchingService
from matcher.store.models import CATALOG_CHANNEL

logger = logging.getLogger(__name__)


class CatalogFollower:
    """A background thread applying other writers' catalogue changes to ``matching``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        matching: MatchingService,
        engine: Engine,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.matching = matching
        self.engine = engine
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.notices = 0  # notifications received (PostgreSQL), for tests and logs
        self.ready = threading.Event()  # set once listening (PostgreSQL) or after the first poll

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="matcher-catalog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def catch_up(self) -> int:
        """Apply what changed since this process's version, then save a due checkpoint."""
        with self.sessions() as session:
            applied = self.matching.sync(session)
            session.commit()  # embeddings cached while applying
        self.matching.checkpoint()
        return applied

    def _loop(self) -> None:
        listening = self.engine.dialect.name == "postgresql"
        while not self._stop.is_set():
            try:
                if listening:
                    self._listen()
                else:
                    self.catch_up()
                    self.ready.set()
                    self._stop.wait(self.poll_seconds)
            except Exception:  # the thread must outlive a bad moment (a database restart, say)
                logger.exception("catalogue follower: a pass failed; trying again shortly")
                self._stop.wait(self.poll_seconds)

    def _listen(self) -> None:
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"LISTEN {CATALOG_CHANNEL}")
            self.catch_up()  # anything committed before the LISTEN
            self.ready.set()
            while not self._stop.is_set():
                received = list(connection.notifies(timeout=self.poll_seconds, stop_after=1))
                self.notices += len(received)
                self.catch_up()  # on a notice, or as the poll when none came
