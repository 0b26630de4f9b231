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
    # No run: filing each need matched it (automatic matching, ten proposals each).
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
