"""The need page asks for the need's own proposals, however long the whole queue is."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def test_the_newest_need_shows_its_proposals_behind_a_long_queue(api: Api) -> None:
    needs = [
        api.new_need(
            "secretariat",
            party="KEN",
            title=f"Mercury waste case {number}",
            description="Hospitals need safe interim storage and disposal of mercury thermometers.",
        )
        for number in range(22)
    ]
    run = api.call("POST", "/v1/matching/runs", "secretariat", {"k": 10})
    assert run.status_code == 201, run.text
    assert run.json()["added"] >= 22 * 10
    api.sign_in("secretariat")
    page = api.client.get(f"/needs/{needs[-1]}")
    assert page.status_code == 200
    proposals = set(re.findall(r'action="/proposals/(\d+)/accept"', page.text))
    newest: set[str] = set()
    offset: int | None = 0
    while offset is not None:
        listed = api.call("GET", f"/v1/proposals?limit=200&offset={offset}", "secretariat").json()
        newest |= {str(item["id"]) for item in listed["items"] if item["need"]["id"] == needs[-1]}
        offset = listed["next_offset"]
    assert len(newest) == 10
    assert proposals == newest
