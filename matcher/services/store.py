"""The store: the configured database, migrated and (when empty) seeded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from matcher.settings import Settings, get_settings


@dataclass
class Store:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def open_store(settings: Settings | None = None, *, seed: bool = True) -> Store:
    """Engine and session factory on the configured database, migrated (and seeded with
    the bundled catalog when empty)."""
    from catalog.loaders import prepare_database
    from matcher.db import create_db_engine, make_session_factory

    settings = settings or get_settings()
    settings.ensure_data_dir()
    engine = create_db_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    prepare_database(engine, sessions, seed=seed)
    return Store(settings=settings, engine=engine, sessions=sessions)
