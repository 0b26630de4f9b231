"""`matcher bench` on a tiny configuration: the report holds every section and sane numbers."""

from __future__ import annotations

import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evaluation import bench_service
from tests.cli.test_cli import run
from tests.cli.test_rank import FAKE
from tests.conftest import _reset_postgres, postgres_url_or_skip

pytestmark = pytest.mark.slow  # runs `matcher bench` in a subprocess


def test_bench_writes_a_report_with_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run(
        "bench",
        "--sizes",
        "200,400",
        "--queries",
        "10",
        "--api-seconds",
        "1",
        "--out",
        str(out),
        data_dir=tmp_path / "d",
        timeout=1200,  # the service sections start servers and stores of their own
        **FAKE,
    )
    assert "embedding path / raw fake" in result.stdout
    report = (out / "performance.md").read_text(encoding="utf-8")
    assert (out / "performance.png").stat().st_size > 10_000
    assert "Machine: " in report and "CPUs" in report
    for section in (
        "## Targets",
        "## Encoders",
        "## Scale",
        "## API",
        "## Mixed load",
        "## Write cost",
        "## Donor view",
        "## Restart and memory",
        "## /healthz",
    ):
        assert section in report, section
    assert "| 200 | exact |" in report and "| 400 | exact |" in report
    data = json.loads((out / "performance.json").read_text(encoding="utf-8"))
    for row in data["sizes"]:
        assert 0 < row["brute"]["p50"] <= row["brute"]["p99"]
        assert 0 < row["stored"]["p50"] <= row["stored"]["p95"] <= row["stored"]["p99"]
    api = data["api"]
    assert set(api) == {"GET /v1/needs/{id}", "GET /v1/needs/{id}/matches"}
    assert all(route["requests"] > 0 and route["errors"] == 0 for route in api.values())
    mixed = data["mixed"]["routes"]
    assert set(mixed) == {
        "GET /v1/needs/{id}/matches",
        "GET /v1/proposals",
        "POST /v1/needs",
        "PATCH /v1/offerings/{id}",
    }
    assert all(route["errors"] == 0 for route in mixed.values())
    assert (data["mixed"]["workers"], data["mixed"]["store"]) == (1, "SQLite")
    served = data["mixed"]["throughput"]
    assert served["single"] > 0 and served["loaded"] > 0
    assert "`matcher serve --workers 1` on SQLite" in report
    assert re.search(r"Requests served per second, all routes: \d+\.\d with one client", report)
    assert set(data["writes"]) == {"200", "400"}
    assert data["donor"]["needs"] == 1000 and data["donor"]["donor"]["p99"] > 0
    restart = data["restart"]
    assert restart["restart"][0]["from_saved"] and restart["restart"][0]["rebuilt"] == []
    assert restart["scratch"][0]["rebuilt"] == ["multilingual", "english"]
    assert restart["stored"]["served"]["p50"] > 0
    assert set(data["healthz"]) == {"200", "400"}
    assert all(row["errors"] == 0 and row["requests"] > 0 for row in data["healthz"].values())
    assert re.search(r"New needs at 200 offerings .* p50 \d+\.\d ms", report)


@pytest.mark.postgres
def test_the_mixed_load_runs_on_two_workers_over_postgresql(tmp_path: Path) -> None:
    url = postgres_url_or_skip()
    _reset_postgres(url)
    said: list[str] = []
    # In a thread of its own: the bench runs its clients with asyncio.run, and a browser test
    # earlier in the session may leave an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(
            bench_service.mixed_load, 1.0, 4, 1, dict(FAKE), said.append, workers=2, database_url=url
        ).result()
    assert (result["workers"], result["store"]) == (2, "PostgreSQL")
    assert "mixed load: starting a server (2 worker(s))" in said
    routes = result["routes"]
    assert sum(row["requests"] for row in routes.values()) > 0
    assert all(row["errors"] == 0 for row in routes.values())


def test_the_bench_refuses_a_database_that_holds_anything(tmp_path: Path) -> None:
    store = tmp_path / "real.sqlite3"
    with sqlite3.connect(store) as connection:
        connection.execute("CREATE TABLE needs (id TEXT)")
    result = run(
        "bench", "--database-url", f"sqlite:///{store}", data_dir=tmp_path / "d", check=False, **FAKE
    )
    assert result.returncode == 2
    said = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stderr).split())  # unwrapped from the error box
    assert (
        "--database-url" in said and "it needs an empty database" in said and "holds 1 table: needs" in said
    )
    with sqlite3.connect(store) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("needs",)]
