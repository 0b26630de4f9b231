"""Two real `matcher serve` processes on one PostgreSQL database, met from outside over HTTP:
what one worker (or `matcher catalog load`) writes, the other serves within 2 seconds."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from evaluation.server import MATCHER, create_key, serving
from tests.conftest import _reset_postgres, postgres_url_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # real processes on PostgreSQL

FAKE = {"MATCHER_MULTILINGUAL_ENCODER": "fake", "MATCHER_ENGLISH_ENCODER": "fake"}
WITHIN = 2.0  # seconds: the acceptance bound for the other worker to follow a write


class Workers:
    def __init__(self, a: str, b: str, key: str, environment: dict[str, str]) -> None:
        self.a, self.b = a, b
        self.headers = {"Authorization": f"Bearer {key}"}
        self.key = key
        self.environment = environment

    def call(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.request(method, url, headers=self.headers, json=body, timeout=60)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    url = postgres_url_or_skip()
    _reset_postgres(url)
    data_dir = tmp_path_factory.mktemp("workers")
    environment = {
        **os.environ,
        **FAKE,
        "MATCHER_DATABASE_URL": url,
        "MATCHER_DATA_DIR": str(data_dir),  # one machine: both share the index folder
    }
    key = create_key(environment, "--role", "secretariat")
    with serving(environment, timeout=300) as a, serving(environment, timeout=300) as b:
        yield Workers(a, b, key, environment)


def eventually(check: Callable[[], bool], within: float = WITHIN) -> float:
    """Seconds until ``check()`` held (polled every 50 ms); fails after ``within``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            pytest.fail(f"not within {within} s")
        time.sleep(0.05)
    return time.monotonic() - started


def match_ids(workers: Workers, base: str, need: str) -> list[str]:
    answer = workers.call("GET", f"{base}/v1/needs/{need}/matches?k=10")
    assert answer.status_code == 200, answer.text
    return [item["offering_id"] for item in answer.json()["results"]]


def test_a_write_through_one_worker_is_served_by_the_other_within_two_seconds(workers: Workers) -> None:
    a, b = workers.a, workers.b
    need = workers.call(
        "POST",
        f"{a}/v1/needs",
        {
            "party": "KEN",
            "title": "Zebrafish mercury biomarkers",
            "description": "We need zebrafish mercury biomarkers laboratory work in three provinces.",
        },
    )
    assert need.status_code == 201, need.text
    need_id = need.json()["id"]
    eventually(lambda: workers.call("GET", f"{b}/v1/needs/{need_id}/matches").status_code == 200)

    created = workers.call(
        "POST",
        f"{a}/v1/offerings",
        {
            "provider_id": "unep",
            "provider": "UNEP",
            "title": "Zebrafish mercury biomarkers",
            "description": "Zebrafish mercury biomarkers laboratory work for any Party.",
            "sectors": ["research-monitoring"],
            "assistance_types": ["data"],
        },
    )
    assert created.status_code == 201, created.text
    offering = created.json()["id"]
    eventually(lambda: offering in match_ids(workers, b, need_id))
    # B's donor view of A's new offering (it answered 500, a KeyError, before).
    donor = workers.call("GET", f"{b}/v1/offerings/{offering}/matches?min_score=-10")
    assert donor.status_code == 200, donor.text
    assert need_id in [item["need_id"] for item in donor.json()["results"]]

    assert workers.call("PATCH", f"{a}/v1/offerings/{offering}", {"active": False}).status_code == 200
    eventually(lambda: offering not in match_ids(workers, b, need_id))
    assert workers.call("GET", f"{b}/v1/offerings/{offering}/matches").status_code == 409
    # A matching run on B never proposes the offering A deactivated.
    run = workers.call("POST", f"{b}/v1/matching/runs", {})
    assert run.status_code == 201, run.text
    proposals = workers.call("GET", f"{b}/v1/proposals?state=proposed&limit=200").json()["items"]
    assert offering not in {item["offering"]["id"] for item in proposals}

    for base in (a, b):
        eventually(lambda base=base: httpx.get(f"{base}/readyz", timeout=10).status_code == 200)


def test_catalog_load_while_the_workers_run_is_served_by_both(workers: Workers, tmp_path: Path) -> None:
    need = workers.call(
        "POST",
        f"{workers.a}/v1/needs",
        {
            "party": "KEN",
            "title": "Axolotl mercury assays",
            "description": "We need axolotl mercury assays for our wetlands laboratory.",
        },
    ).json()["id"]
    rows = tmp_path / "more.jsonl"
    rows.write_text(
        '{"id": "axolotl-lab", "provider_id": "unep", "provider": "UNEP", "title": "Axolotl mercury '
        'assays", "description": "Axolotl mercury assays for wetlands laboratories.", '
        '"sectors": ["research-monitoring"]}\n',
        encoding="utf-8",
    )
    loaded = subprocess.run(
        [MATCHER, "catalog", "load", str(rows)],
        env=workers.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    for base in (workers.a, workers.b):
        eventually(lambda base=base: "axolotl-lab" in match_ids(workers, base, need))


def _signed_in_client(base: str, key: str) -> httpx.Client:
    """A browser signed in on ``base`` (with the sign-in form's token when it has one)."""
    client = httpx.Client(timeout=30, follow_redirects=False)
    form = client.get(f"{base}/")
    fields = {"api_key": key}
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if token:
        fields["csrf"] = token.group(1)
    signed = client.post(f"{base}/signin", data=fields)
    assert signed.status_code == 303, signed.text
    return client


def test_a_form_rendered_by_one_worker_is_accepted_by_the_other(workers: Workers) -> None:
    """Web sessions and their form tokens live in the database (``web_sessions``)."""
    client = _signed_in_client(workers.a, workers.key)
    page = client.get(f"{workers.a}/account")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    # The sign-out form, rendered by A, submitted to B.
    answer = client.post(f"{workers.b}/signout", data={"csrf": token.group(1)})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
