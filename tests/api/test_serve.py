"""`matcher keys` and `matcher serve` as a new user meets them: real processes, real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from evaluation.server import create_key, environment_for, serving
from tests.cli.test_cli import run

pytestmark = pytest.mark.slow  # starts `matcher serve` as a real process

FAKE = {"MATCHER_MULTILINGUAL_ENCODER": "fake", "MATCHER_ENGLISH_ENCODER": "fake"}


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    created = run("keys", "create", "--role", "party", "--party", "ken", data_dir=data_dir)
    lines = created.stdout.splitlines()
    assert len(lines) == 2
    key_id = lines[0].split()[2]
    assert lines[0] == f"key id: {key_id} (role party for KEN)"
    key = lines[-1]
    assert key.startswith(f"mm_{key_id}_") and len(key) > 40
    listing = run("keys", "list", data_dir=data_dir).stdout
    assert key_id in listing and "party\\tKEN\\tactive" in listing.replace("\t", "\\t")
    assert key not in listing and key.split("_")[-1] not in listing
    assert run("keys", "revoke", key_id, data_dir=data_dir).stdout.strip() == f"revoked {key_id}"
    assert "revoked" in run("keys", "list", data_dir=data_dir).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "party"], "needs --party"),
        (["--role", "party", "--party", "XXX"], "unknown party"),
        (["--role", "secretariat", "--party", "KEN"], "only a party key"),
        (["--role", "chief"], "unknown role"),
        (["--role", "provider", "--provider", "Bad Id"], "provider id"),
    ],
)
def test_keys_create_refuses_bad_scopes(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("keys", "create", *args, data_dir=tmp_path / "d", check=False)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_serve_answers_over_real_http(tmp_path: Path) -> None:
    environment = environment_for(tmp_path / "d", FAKE)
    key = create_key(environment, "--role", "secretariat")
    with serving(environment, timeout=120) as base:
        assert httpx.get(f"{base}/docs").status_code == 200
        headers = {"Authorization": f"Bearer {key}"}
        listing = httpx.get(f"{base}/v1/offerings?limit=100", headers=headers).json()
        assert listing["total"] == 76  # the bundled catalog was seeded on first start
        assert httpx.get(f"{base}/v1/offerings").status_code == 401
