"""An API over a fresh store per engine (SQLite file, PostgreSQL schema), with fake
encoders so the role matrix runs fast; the real models have their own test."""

from __future__ import annotations

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

ROLES = ("admin", "secretariat", "party", "other_party", "provider", "other_provider")


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    items: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}

    def call(self, method: str, path: str, role: str | None, body: Any = None, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.headers(role), json=body, **kwargs)

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
    # (tests of the cut-off pass min_score themselves).
    return Settings(
        data_dir=data_dir,
        database_url=url,
        multilingual_encoder="fake",
        english_encoder="fake",
        donor_min_score=-10.0,
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
