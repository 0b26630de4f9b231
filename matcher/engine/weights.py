"""Weights of the ranking score, kept apart from the engine so that reading settings
stays cheap (no FAISS, BM25 or model imports just to parse the environment)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RankingWeights(BaseModel):
    """Weights of the score's components (see the module docstring). Set them with
    ``MATCHER_RANKING__<NAME>`` environment variables, e.g. ``MATCHER_RANKING__LEXICAL=0.2``."""

    model_config = ConfigDict(frozen=True)

    dense_multilingual: float = 0.5
    dense_english: float = 0.3
    lexical: float = 0.3
    sentence: float = 0.15
    sector_stated: float = 0.3
    sector_inferred: float = 0.15
    type_stated: float = 0.1
    type_inferred: float = 0.05
    concept: float = 0.25
    subsector: float = 0.3
    language: float = 0.1
    country_focus: float = 0.08
    generality: float = 0.3
    unverified: float = 0.3
    budget: float = 0.05
    # History (``matcher.engine.history``): similar past needs the offering served, its record
    # in the Party's region, and similar past needs where it was rejected (subtracted).
    history_served: float = 0.2
    history_region: float = 0.1
    history_rejected: float = 0.1
    provider_repeat: float = 0.0  # score lost per offering of the same provider already placed
    provider_cap: int = 4  # at most this many offerings of one provider in the top 10
