"""Small builders for plain engine records (``make_offering(**overrides)``) and for an
engine over them with the deterministic fake encoder (``make_engine``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL, Encoder, FakeEncoder
from matcher.engine import builder
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.query import NeedQuery
from matcher.engine.ranking import RankingEngine
from matcher.engine.weights import RankingWeights
from matcher.taxonomy import load_taxonomy

ALL_REGIONS = ("africa", "asia-pacific", "cee", "grulac", "weog")


def make_party(**overrides: Any) -> PartyProfile:
    values: dict[str, Any] = {"iso3": "KEN", "region": "africa", "status": "developing"}
    values.update(overrides)
    return PartyProfile(**values)


def make_offering(**overrides: Any) -> OfferingProfile:
    values: dict[str, Any] = {
        "id": "offering",
        "provider_id": "org",
        "provider": "Organisation",
        "title": "Programme",
        "description": "Support for mercury work.",
        "sectors": ("waste",),
        "assistance_types": ("training",),
        "regions": ALL_REGIONS,
        "eligible_status": ("developing", "transition"),
    }
    values.update(overrides)
    return OfferingProfile(**values)


def make_need(**overrides: Any) -> NeedProfile:
    values: dict[str, Any] = {
        "id": "need",
        "party": "KEN",
        "title": "Help",
        "description": "We need help with mercury waste.",
        "language": "en",
    }
    values.update(overrides)
    return NeedProfile(**values)


FAKE_ENCODER = FakeEncoder(128)
FAKE_ENCODERS: dict[str, Encoder] = {MULTILINGUAL: FAKE_ENCODER, ENGLISH: FAKE_ENCODER}


def embed(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """The builder's embedding function without any cache."""
    return encoder.encode(texts)


def make_engine(
    offerings: Sequence[OfferingProfile], weights: RankingWeights | None = None, **options: Any
) -> RankingEngine:
    """The shipped builder's engine over ``offerings``, both roles on the fake encoder."""
    return builder.build_engine(
        offerings=offerings,
        encoders=FAKE_ENCODERS,
        embed=embed,
        taxonomy=load_taxonomy(),
        weights=weights,
        **options,
    )


def fake_vectors(query: NeedQuery) -> dict[str, np.ndarray]:
    """The need vectors of ``query`` under the fake encoders."""
    return builder.embed_query(query, FAKE_ENCODERS, embed)
