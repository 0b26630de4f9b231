"""An API over a fresh store per engine (SQLite file, PostgreSQL schema), with fake
encoders so the role matrix runs fast; the real models have their own test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matcher.api.app import create_app
from matcher.services.access import create_key
from matcher.settings import Settings
from matcher.store.db import session_scope
from tests.conftest import _reset_postgres, postgres_url_or_skip

FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')
ROLES = ("admin", "secretariat", "party", "other_party", "provider", "other_provider")


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    items: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}

    def call(self, method: str, path: str, role: str | None, body: Any = None, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.headers(role), json=body, **kwargs)

    def sign_in(self, role: str) -> str:
        """Sign the test client in as ``role`` through the sign-in form, as a browser does
        (a fresh session, no other cookies); returns the session's form token."""
        self.client.cookies.clear()
        form = self.client.get("/")
        token = FORM_TOKEN.search(form.text)
        fields = {"api_key": self.keys[role], **({"csrf": token.group(1)} if token else {})}
        signed = self.client.post("/signin", data=fields, follow_redirects=False)
        assert signed.status_code == 303, signed.text
        home = self.client.get(signed.headers["location"])
        found = FORM_TOKEN.search(home.text)
        assert found, home.text[:500]
        return found.group(1)

    def web_session(self, role: str) -> None:
        """The client with ``role``'s session cookie alone (signed in once, then reused)."""
        if role not in self.sessions:
            self.sign_in(role)
            self.sessions[role] = str(self.client.cookies.get("mm_session"))
        self.client.cookies.clear()
        self.client.cookies.set("mm_session", self.sessions[role])

    def new_need(self, role: str = "party", **fields: Any) -> str:
        body = {
            "title": "Mercury waste from hospitals",
            "description": "Our hospitals need safe interim storage and disposal for mercury thermometers.",
            **fields,
        }
        response = self.call("POST", "/v1/needs", role, body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def new_offering(self, role: str = "provider", **fields: Any) -> str:
        body = {
            "provider": "UNEP",
            "title": "Mercury waste management support",
            "description": "Interim storage and environmentally sound disposal of mercury waste.",
            "sectors": ["waste", "storage"],
            **fields,
        }
        response = self.call("POST", "/v1/offerings", role, body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def fake_settings(data_dir: Path, url: str) -> Settings:
    # The fake encoders score on another scale than the real models: no donor cut-off here
    # (tests of the cut-off pass min_score themselves), and every open need counts as "no
    # good match" in the unmet-needs report.
    return Settings(
        data_dir=data_dir,
        database_url=url,
        multilingual_encoder="fake",
        english_encoder="fake",
        donor_min_score=-10.0,
        unmet_score_threshold=5.0,
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'api.sqlite3'}"
    else:
        url = postgres_url_or_skip()
        _reset_postgres(url)
    app = create_app(fake_settings(data_dir, url))
    with TestClient(app) as client:
        keys = {}
        scopes: dict[str, dict[str, str]] = {
            "admin": {"role": "admin"},
            "secretariat": {"role": "secretariat"},
            "party": {"role": "party", "party": "KEN"},
            "other_party": {"role": "party", "party": "PER"},
            "provider": {"role": "provider", "provider": "unep"},
            "other_provider": {"role": "provider", "provider": "undp"},
        }
        with session_scope(app.state.store.sessions) as session:
            for name, scope in scopes.items():
                role = scope.pop("role")
                keys[name] = create_key(session, role, **scope).key  # type: ignore[arg-type]
        api = Api(client, keys)
        api.items["need"] = api.new_need()
        api.items["secret_need"] = api.new_need(confidential=True, title="Confidential: mercury stockpile")
        api.items["offering"] = api.new_offering()
        yield api
