"""The SQLite writer gate (``matcher.store.db.WriterGate``): writers of one process take
turns on it instead of polling SQLite's lock, and every way a transaction ends gives it back."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from matcher.store import db
from matcher.store.db import GatedConnection, create_db_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'gate.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, who TEXT NOT NULL UNIQUE)"))
    yield engine
    engine.dispose()


def _dbapi(connection: object) -> GatedConnection:
    raw = connection.connection.dbapi_connection  # type: ignore[attr-defined]
    assert isinstance(raw, GatedConnection)
    return raw


def test_a_write_holds_the_gate_until_its_transaction_ends(engine: Engine) -> None:
    with engine.connect() as connection:
        raw = _dbapi(connection)
        connection.execute(text("SELECT count(*) FROM item"))
        assert not raw.holding  # a read takes no turn
        connection.execute(text("INSERT INTO item (who) VALUES ('a')"))
        assert raw.holding
        connection.commit()
        assert not raw.holding
        connection.execute(text("UPDATE item SET who = 'b'"))
        assert raw.holding
        connection.rollback()
        assert not raw.holding
        assert connection.execute(text("SELECT who FROM item")).scalar_one() == "a"


def test_a_failed_write_gives_the_gate_back_on_rollback(engine: Engine) -> None:
    with engine.connect() as connection:
        raw = _dbapi(connection)
        connection.execute(text("INSERT INTO item (who) VALUES ('a')"))
        connection.commit()
        with pytest.raises(Exception, match="UNIQUE"):
            connection.execute(text("INSERT INTO item (who) VALUES ('a')"))
        connection.rollback()
        assert not raw.holding
    # Another connection writes at once: nothing kept the turn.
    with engine.begin() as other:
        other.execute(text("INSERT INTO item (who) VALUES ('b')"))


def test_ddl_outside_a_transaction_gives_the_gate_back(engine: Engine) -> None:
    raw_connection = engine.raw_connection()
    try:
        raw = raw_connection.dbapi_connection
        assert isinstance(raw, GatedConnection)
        raw.execute("CREATE TABLE other (id INTEGER PRIMARY KEY)")  # autocommitted by the driver
        assert not raw.in_transaction
        assert not raw.holding
    finally:
        raw_connection.close()


def test_a_closed_connection_gives_the_gate_back(engine: Engine) -> None:
    raw_connection = engine.raw_connection()
    raw = raw_connection.dbapi_connection
    assert isinstance(raw, GatedConnection)
    raw.cursor().execute("INSERT INTO item (who) VALUES ('a')")
    assert raw.holding
    raw_connection.invalidate()  # closes the DBAPI connection without a commit
    assert not raw.holding
    with engine.begin() as other:
        other.execute(text("INSERT INTO item (who) VALUES ('b')"))
        assert other.execute(text("SELECT count(*) FROM item")).scalar_one() == 1  # 'a' never committed


def test_a_second_writer_waits_for_the_first_commit_and_then_writes(engine: Engine) -> None:
    second_done: list[float] = []
    committed_at: list[float] = []

    def second() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO item (who) VALUES ('second')"))
        second_done.append(time.monotonic())

    with engine.connect() as connection:
        connection.execute(text("INSERT INTO item (who) VALUES ('first')"))
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert not second_done  # still waiting for its turn
        connection.commit()
        committed_at.append(time.monotonic())
    thread.join(timeout=30)
    assert second_done and second_done[0] >= committed_at[0]
    with engine.connect() as connection:
        assert set(connection.execute(text("SELECT who FROM item")).scalars()) == {"first", "second"}


def test_many_threads_writing_at_once_all_succeed(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            for round_ in range(15):
                with engine.begin() as connection:
                    connection.execute(text("SELECT count(*) FROM item"))
                    connection.execute(
                        text("INSERT INTO item (who) VALUES (:who)"), {"who": f"{number}-{round_}"}
                    )
        except BaseException as problem:  # collected: the assertion names it
            errors.append(problem)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM item")).scalar_one() == 8 * 15


def test_a_thread_never_waits_for_the_gate_its_other_connection_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two connections in one thread, the first mid-transaction: the second goes to SQLite,
    which refuses it after its busy timeout (as without the gate), instead of waiting for a
    turn only this thread could give back."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.2)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'self.sqlite3'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, who TEXT)"))
        with engine.connect() as first, engine.connect() as second:
            first.execute(text("INSERT INTO item (who) VALUES ('first')"))
            assert _dbapi(first).holding
            with pytest.raises(Exception, match="locked") as caught:
                second.execute(text("INSERT INTO item (who) VALUES ('second')"))
            assert isinstance(caught.value.__cause__ or caught.value.orig, sqlite3.OperationalError)  # type: ignore[attr-defined]
            assert not _dbapi(second).holding
            second.rollback()
            first.commit()
            second.execute(text("INSERT INTO item (who) VALUES ('second')"))
            second.commit()
            assert second.execute(text("SELECT count(*) FROM item")).scalar_one() == 2
    finally:
        engine.dispose()
