"""Shared fixtures.

Database tests run on SQLite (a fresh file per test) and on PostgreSQL when
``MATCHER_TEST_DATABASE_URL`` is set (a fresh schema per test). Under ``CI=true`` a
missing PostgreSQL is a failure, never a skip: a green CI means both engines ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from matcher.settings import get_settings
from matcher.store.db import create_db_engine, make_session_factory, upgrade
from tests.smtp import SmtpServer

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that loads a real model is slow by definition: the quick loop
    (``pytest -m "not slow"``) leaves it out; CI runs everything."""
    for item in items:
        if item.get_closest_marker("real_model") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


def postgres_url_or_skip() -> str:
    url = os.environ.get("MATCHER_TEST_DATABASE_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but MATCHER_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("MATCHER_TEST_DATABASE_URL not set")
    return url


def _reset_postgres(url: str) -> None:
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except Exception as error:  # a refused connection must fail loudly in CI
        if IN_CI:
            pytest.fail(f"cannot reach PostgreSQL at MATCHER_TEST_DATABASE_URL: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each engine (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url = postgres_url_or_skip()
    _reset_postgres(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_engine(engine: Engine) -> Engine:
    upgrade(engine)
    return engine


@pytest.fixture
def sessions(migrated_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(migrated_engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data folder; settings are re-read from the environment."""
    monkeypatch.setenv("MATCHER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("MATCHER_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free localhost port, collecting what it accepts;
    ``smtp_server.url`` is the value for ``MATCHER_SMTP_URL`` (see ``tests/smtp.py``)."""
    server = SmtpServer().start()
    yield server
    server.stop()
