"""The acceptance path with the real encoders: a French need filed by a Party gets ten
ranked, explained proposals for the secretariat."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from matcher.api.app import create_app
from matcher.services.access import create_key
from matcher.settings import Settings
from matcher.store.db import session_scope


@pytest.mark.real_model
@pytest.mark.slow
def test_french_need_gets_ten_explained_proposals_with_the_real_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'm.sqlite3'}")
    assert (settings.multilingual_encoder, settings.english_encoder) == ("use", "minilm")
    app = create_app(settings)
    with TestClient(app) as client:
        with session_scope(app.state.store.sessions) as session:
            party = create_key(session, "party", party="SEN").key
            staff = create_key(session, "secretariat").key
        need = client.post(
            "/v1/needs",
            headers={"Authorization": f"Bearer {party}"},
            json={
                "title": "Orpaillage sans mercure dans la région de Kédougou",
                "description": (
                    "Les orpailleurs de Kédougou amalgament l'or avec du mercure à l'air libre. "
                    "Nous demandons une formation aux méthodes sans mercure, des équipements de "
                    "concentration gravimétrique et un appui pour formaliser les sites."
                ),
            },
        )
        assert need.status_code == 201
        body = need.json()
        assert body["language"] == "fr" and "asgm" in body["inferred"]["sectors"]
        assert body["coaching"]["vague"] is False
        matches = client.get(
            f"/v1/needs/{body['id']}/matches?k=10", headers={"Authorization": f"Bearer {staff}"}
        ).json()
        results = matches["results"]
        assert len(results) == 10
        scores = [result["score"] for result in results]
        assert scores == sorted(scores, reverse=True)
        for result in results:
            explanation = result["explanation"]
            assert explanation["components"]["dense_multilingual"] != 0
            assert explanation["sentence_pair"]["need"] in body["description"] + body["title"]
            assert sum(explanation["components"].values()) == pytest.approx(result["score"], abs=1e-4)
        # An ASGM programme leads: the French text met the English catalog.
        top_ids = [result["offering_id"] for result in results[:5]]
        catalog = {
            o["id"]: o
            for o in client.get(
                "/v1/offerings?limit=200", headers={"Authorization": f"Bearer {staff}"}
            ).json()["items"]
        }
        assert any("asgm" in catalog[offering_id]["sectors"] for offering_id in top_ids)
