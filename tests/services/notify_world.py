"""A small world for notification tests: two Parties, two providers, their offerings, a need
and a proposal, and keys with addresses. Built straight in the store (no engine needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from matcher.services.access import create_key
from matcher.store.models import ApiKey, Interest, Match, Need, Offering, Party, Provider, utcnow
from matcher.taxonomy import UN_LANGUAGES

KENYA_DESK = "mercury@environment.go.ke"
KENYA_FOCAL = "focal.point@environment.go.ke"
UNEP_DESK = "chemicals@unep.org"
UNEP_OFFICER = "officer@unep.org"
SECRETARIAT = "secretariat@minamata.example.org"
ADMIN = "admin@minamata.example.org"
SECRET_TEXT = "Stockpile of 40 tonnes at the old chlor-alkali plant"


@dataclass
class World:
    keys: dict[str, str]  # name -> key id

    def key_label(self, name: str) -> str:
        return f"key:{self.keys[name]}"


def build_world(session: Session) -> World:
    """Parties KEN (address KENYA_DESK) and PER (none); providers unep (UNEP_DESK) and undp;
    keys with addresses: KEN's focal point, a revoked KEN key, a PER key, a unep officer, a
    undp key, a secretariat key, an admin key and a secretariat key without an address."""
    session.add_all(
        [
            Party(iso3="KEN", name_en="Kenya", un_region="africa", status="developing", email=KENYA_DESK),
            Party(iso3="PER", name_en="Peru", un_region="grulac", status="developing"),
            Provider(provider_id="unep", name="UNEP", email=UNEP_DESK),
            Provider(provider_id="undp", name="UNDP"),
        ]
    )
    session.flush()
    for offering_id, provider_id, title in (
        ("off-waste", "unep", "Mercury waste management support"),
        ("off-asgm", "undp", "Artisanal gold mining transition fund"),
    ):
        session.add(
            Offering(
                id=offering_id,
                provider_id=provider_id,
                provider=provider_id.upper(),
                title=title,
                description="Support for mercury work.",
                sectors=["waste"],
                assistance_types=[],
                regions=[],
                countries=[],
                eligible_status=[],
                languages=[],
                contact="Jane Doe, mercury@unep.org",
                how_to_apply="Send a concept note of two pages.",
            )
        )
    keys = {
        "ken": create_key(session, "party", party="KEN", email=KENYA_FOCAL).key_id,
        "ken_revoked": create_key(session, "party", party="KEN", email="old.focal@environment.go.ke").key_id,
        "per": create_key(session, "party", party="PER", email="punto.focal@minam.gob.pe").key_id,
        "unep": create_key(session, "provider", provider="unep", email=UNEP_OFFICER).key_id,
        "undp": create_key(session, "provider", provider="undp", email="desk@undp.org").key_id,
        "secretariat": create_key(session, "secretariat", email=SECRETARIAT).key_id,
        "admin": create_key(session, "admin", email=ADMIN).key_id,
        "quiet": create_key(session, "secretariat").key_id,
    }
    session.flush()
    revoked = session.get(ApiKey, keys["ken_revoked"])
    assert revoked is not None
    revoked.revoked_at = utcnow()
    session.flush()
    return World(keys)


def add_need(session: Session, need_id: str = "need-1", **overrides: Any) -> Need:
    values: dict[str, Any] = {
        "id": need_id,
        "party_iso3": "KEN",
        "title": "Mercury waste from hospitals",
        "description": "Our hospitals need safe interim storage for mercury thermometers.",
        "language": "en",
        "budget_usd": 150000.0,
        "sectors": ["waste"],
        "assistance_types": [],
        "inferred_sectors": [],
        "inferred_assistance_types": [],
    }
    values.update(overrides)
    assert values["language"] is None or values["language"] in UN_LANGUAGES
    need = Need(**values)
    session.add(need)
    session.flush()
    return need


def add_match(session: Session, need: Need, offering_id: str = "off-waste", state: str = "proposed") -> Match:
    match = Match(
        need_id=need.id,
        offering_id=offering_id,
        score=1.0,
        components={},
        explanation={},
        rank=1,
        engine_version="test",
        state=state,
    )
    session.add(match)
    session.flush()
    return match


def add_interest(
    session: Session, need: Need, offering_id: str = "off-waste", note: str | None = None
) -> Interest:
    interest = Interest(need_id=need.id, offering_id=offering_id, actor="key:test", note=note)
    session.add(interest)
    session.flush()
    return interest
