"""The ``matcher`` command as a user runs it: a real process on a fresh data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test runs the `matcher` command in a subprocess

MATCHER = str(Path(sys.executable).with_name("matcher"))


def run(
    *args: str, data_dir: Path, check: bool = True, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MATCHER_DATA_DIR": str(data_dir), **env}
    environment.pop("MATCHER_DATABASE_URL", None)
    result = subprocess.run(
        [MATCHER, *args], capture_output=True, text=True, env=environment, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"matcher {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def test_catalog_load_on_a_fresh_folder_then_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    first = run("catalog", "load", data_dir=data_dir)
    assert first.stdout.splitlines() == [
        "parties: 193 created, 0 updated, 0 unchanged",
        "providers: 54 created, 0 updated, 0 unchanged",
        "offerings: 76 created, 0 updated, 0 unchanged",
    ]
    assert (data_dir / "matcher.sqlite3").exists()
    second = run("catalog", "load", data_dir=data_dir)
    assert second.stdout.splitlines() == [
        "parties: 0 created, 0 updated, 193 unchanged",
        "providers: 0 created, 0 updated, 54 unchanged",
        "offerings: 0 created, 0 updated, 76 unchanged",
        "nothing changed",
    ]


def test_bad_row_exits_non_zero_and_changes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    bad = tmp_path / "offerings.jsonl"
    good = {
        "id": "new-one",
        "provider": "Org",
        "title": "Programme",
        "description": "Help.",
        "sectors": ["waste"],
    }
    wrong = {**good, "id": "new-two", "sectors": ["waste", "moon-mining"]}
    bad.write_text(json.dumps(good) + "\n" + json.dumps(wrong) + "\n", encoding="utf-8")
    before = run("catalog", "export", "--kind", "offerings", data_dir=data_dir).stdout
    result = run("catalog", "load", str(bad), data_dir=data_dir, check=False)
    assert result.returncode != 0
    assert f"{bad}:2: sectors: unknown sector code 'moon-mining'; allowed: supply-trade," in result.stderr
    assert "asgm" in result.stderr  # every allowed code is listed
    assert run("catalog", "export", "--kind", "offerings", data_dir=data_dir).stdout == before


def test_any_command_works_first_on_a_fresh_folder(tmp_path: Path) -> None:
    exported = run("catalog", "export", "--kind", "parties", "--format", "csv", data_dir=tmp_path / "new")
    lines = exported.stdout.splitlines()
    assert lines[0] == "iso3,name_en,name_fr,name_es,un_region,status,ldc,sids,email"
    assert len(lines) == 1 + 193


def test_needs_load_warns_once_about_unknown_fields(tmp_path: Path) -> None:
    needs = Path(__file__).parents[2] / "evaluation" / "data" / "dev_needs.jsonl"
    result = run("catalog", "load", str(needs), data_dir=tmp_path / "d")
    assert result.stdout.splitlines() == ["needs: 58 created, 0 updated, 0 unchanged"]
    assert result.stderr.count("ignored unknown field(s): vague") == 1


def test_db_upgrade_reports_revision(tmp_path: Path) -> None:
    first = run("db", "upgrade", data_dir=tmp_path / "d")
    assert first.stdout.startswith("database at revision ") and "(was None)" in first.stdout
    assert "(unchanged)" in run("db", "upgrade", data_dir=tmp_path / "d").stdout


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["catalog"],
        ["catalog", "load"],
        ["catalog", "export"],
        ["serve"],
        ["keys"],
        ["keys", "create"],
        ["keys", "revoke"],
        ["keys", "list"],
        ["rank"],
        ["index", "build"],
        ["lifecycle", "run"],
    ],
)
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    result = run(*command, "--help", data_dir=tmp_path)
    assert "Usage: matcher" in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_lifecycle_run_prints_its_summary(tmp_path: Path) -> None:
    result = run("lifecycle", "run", data_dir=tmp_path / "d")
    assert result.stdout.startswith("lifecycle: 0 need(s) asked to reconfirm, 0 closed, 0 proposal(s) closed")
