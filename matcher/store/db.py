"""Database engine, sessions and migrations.

SQLite (a file under ``MATCHER_DATA_DIR``) is the default; PostgreSQL works by URL.
Schema changes go through Alembic migrations only (``matcher db upgrade``).
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from matcher.settings import Settings, get_settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite files get WAL journaling with full fsync (a commit
    that returned survives a crash), foreign keys on, a busy timeout, and one writer gate
    per engine (``GatedConnection``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False, "factory": GatedConnection},
            **kwargs,
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, WriterGate()))
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


BUSY_TIMEOUT_S = 30.0
# The statements that make SQLite take its one write lock (the driver begins a transaction
# before INSERT, UPDATE, DELETE and REPLACE; DDL writes too).
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class WriterGate:
    """The turn to write on one SQLite engine, for the threads of one process.

    SQLite has one writer at a time; a connection that finds the write lock taken polls it
    with growing sleeps (up to 100 ms apart), so under concurrent writes a request that has
    waited a while keeps missing the moments the lock is free while newcomers take it: the
    slowest writes wait seconds (measured: POST /v1/needs p99 3.5-5 s under 8 clients, about
    2 s with the gate). A connection takes the gate before its transaction's first write and
    gives it back when the transaction ends, so waiting threads are woken the moment the
    writer before them commits. Other processes on the same file still meet SQLite's busy
    timeout. A thread whose other connection holds the gate does not wait for it (it would
    wait for itself): it goes straight to SQLite, which fails it after the busy timeout, as
    it did before the gate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def take(self) -> bool:
        if self._owner == threading.get_ident():
            return False
        taken = self._lock.acquire(timeout=BUSY_TIMEOUT_S)
        if taken:
            self._owner = threading.get_ident()
        return taken

    def give_back(self) -> None:
        self._owner = None
        self._lock.release()


class GatedConnection(sqlite3.Connection):
    """A SQLite connection that takes its engine's ``WriterGate`` before it writes and gives
    it back when its transaction ends (commit, rollback, close, or a statement that left no
    transaction open: DDL runs outside one, and a failed BEGIN opens none)."""

    gate: WriterGate | None = None
    holding = False

    def cursor(self, factory: Any = None) -> Any:  # the gated cursor unless told otherwise
        return super().cursor(factory or _GatedCursor)

    def before_statement(self, statement: str) -> None:
        if self.gate is not None and not self.holding and _WRITES.match(statement):
            self.holding = self.gate.take()

    def after_statement(self) -> None:
        if not self.in_transaction:
            self._give_back()

    def _give_back(self) -> None:
        if self.holding and self.gate is not None:
            self.holding = False
            self.gate.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            if not self.in_transaction:
                self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()


class _GatedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        connection: GatedConnection = self.connection  # type: ignore[assignment]
        connection.before_statement(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            connection.after_statement()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        connection: GatedConnection = self.connection  # type: ignore[assignment]
        connection.before_statement(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            connection.after_statement()


def _sqlite_pragmas(gate: WriterGate, dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, GatedConnection):
        dbapi_connection.gate = gate
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (no-op when already there)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


@dataclass
class Store:
    """The configured database: its engine, a session factory and the settings it came from."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def open_store(settings: Settings | None = None) -> Store:
    """Engine and session factory on the configured database, created and migrated.

    Opening a store only migrates: seeding the bundled catalog is the caller's choice
    (``catalog.loaders.seed_if_empty``, called by the CLI and the app start-up)."""
    settings = settings or get_settings()
    settings.ensure_data_dir()
    engine = create_db_engine(settings.resolved_database_url)
    upgrade(engine)
    return Store(settings=settings, engine=engine, sessions=make_session_factory(engine))
