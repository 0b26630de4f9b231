"""Database URLs with passwords are masked wherever they are printed or logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from matcher.settings import Settings
from tests.conftest import postgres_url_or_skip

PASSWORD = "s3cr3t-pa55"
URL = f"postgresql+psycopg://matcher:{PASSWORD}@db.example.org:5432/matcher"


def test_settings_show_the_database_url_without_its_password(tmp_path: Path) -> None:
    shown = Settings(data_dir=tmp_path, database_url=URL).display_database_url
    assert PASSWORD not in shown and shown == "postgresql+psycopg://matcher:***@db.example.org:5432/matcher"
    sqlite = Settings(data_dir=tmp_path).display_database_url
    assert sqlite.startswith("sqlite:///") and sqlite.endswith("matcher.sqlite3")


def test_matcher_serve_prints_the_url_masked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn

    from matcher import cli

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    monkeypatch.setattr("matcher.api.app.create_app", lambda settings: object())
    monkeypatch.setenv("MATCHER_DATABASE_URL", URL)
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(cli.app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert started and started[0]["port"] == 8123
    assert "matcher:***@db.example.org" in result.output
    assert PASSWORD not in result.output and PASSWORD not in caplog.text


@pytest.mark.postgres
def test_the_app_logs_its_database_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.engine import make_url

    from matcher.api.app import create_app
    from tests.api.conftest import fake_settings
    from tests.conftest import _reset_postgres

    url = postgres_url_or_skip()
    password = make_url(url).password
    assert password, "the test database URL has a password to hide"
    _reset_postgres(url)
    with caplog.at_level(logging.INFO), TestClient(create_app(fake_settings(tmp_path, url))) as client:
        assert client.get("/healthz").status_code == 200
    served = [record.getMessage() for record in caplog.records if "serving" in record.getMessage()]
    assert served and "***@" in served[0]
    assert f":{password}@" not in caplog.text
