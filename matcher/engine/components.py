"""The score's components, each one weighted array over the candidate rows.

Score of a candidate (higher is better; roughly 0–1.5, not a probability):

    weights.dense_multilingual · cosine(USE need, USE offering)
  + weights.dense_english      · cosine(MiniLM need-in-English, MiniLM offering)
  + weights.lexical            · BM25(need-in-English) / max BM25 over candidates
  + weights.sentence           · best cosine(USE need sentence, USE offering sentence)
  + weights.sector_stated      · share of the need's stated sectors the offering covers
  + weights.sector_inferred    · share of the inferred-sector evidence the offering covers
  + weights.type_stated / type_inferred  (the same for assistance types)
  + weights.concept            · cosine of the need's and the offering's code profiles
  − weights.subsector          · [the offering is a specialist of another industry of the
                                 need's sector] (``subsector_fit``), weighted by the need's
                                 sub-sector evidence
  + weights.language           · [the offering works in the need's language]
  + weights.country_focus      · [the offering names the Party in its country list]
                                 × share of the need's sector evidence the offering covers
  + weights.generality         · (1 − specificity of the need) × [the offering covers
                                 the general-implementation sector]
  − weights.unverified         · [the offering is unverified]
  − weights.budget             · how far the need's budget lies outside the funding range
  + weights.history_served     · weighted share of similar past needs the offering served
  + weights.history_region     · its record in the Party's region, n / (n + 5)
  − weights.history_rejected   · weighted share of similar past needs that rejected it
                                 (the three history components are computed by
                                 ``matcher.engine.history`` and are 0 without history)

A promoted learned model (``matcher.engine.reranker``) may re-order the head of a ranking;
it never changes this score, whose scale the unmet-needs threshold and the donor cut-off
use.

A vague need ("we lack capacity") names no subject; the taxonomy's general-implementation
sector (``GENERAL_SECTOR``: ratification, legislation, institutions) is what such a need asks
for, so the less specific the need (``matcher.engine.vagueness``), the more an offering that
covers it gains. (Rewarding the share of all sectors an offering lists instead favoured large
programmes that do not take unspecific requests: dev nDCG@10 of the vague needs 0.73,
against 0.92 with the general sector.)

A programme that serves a named list of countries (a regional centre, a sub-regional
project) is the natural first contact for those countries, but only in its own sectors:
its country focus counts in proportion to how much of the need's sector evidence it covers.

The sentence component starts as the whole-text multilingual cosine; the ranking replaces it
by the best sentence pair (``best_sentence_pair``) for its head only, so its cost does not
grow with the catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.catalogue import Catalogue
from matcher.engine.query import NeedQuery
from matcher.engine.weights import RankingWeights


def component_arrays(
    query: NeedQuery,
    catalogue: Catalogue,
    rows: np.ndarray,
    dense: Mapping[str, np.ndarray],
    lexical: np.ndarray,
    weights: RankingWeights,
) -> dict[str, np.ndarray]:
    """Each weighted component of the score, one value per candidate row (aligned with
    ``rows``). ``dense`` maps an encoder role to its cosines over ``rows`` (a role left out
    contributes 0); ``lexical`` holds the normalised BM25 scores over ``rows``."""
    need, evidence = query.need, query.evidence
    w = weights
    zeros = np.zeros(len(rows), dtype=float)
    # Work on whole-catalogue columns and pick the candidate rows from the 1-d results:
    # indexing the 2-d code matrices by ``rows`` first would copy them on every query.
    stated_sectors = _share_of(catalogue.sectors, need.sectors, catalogue.sector_column)[rows]
    inferred_sectors = _weighted_share_of(
        catalogue.sector_weights, evidence.sectors, catalogue.sector_column, exclude=need.sectors
    )[rows]
    focus = catalogue.has_countries[rows]
    country_focus = zeros.copy()
    if focus.any():
        evidence_share = _weighted_share_of(
            catalogue.sector_weights[rows[focus]], evidence.sectors, catalogue.sector_column, exclude=()
        )
        country_focus[focus] = np.maximum(stated_sectors[focus], evidence_share)
    language_column = catalogue.language_column.get(need.language or "")
    if language_column is None:
        language = zeros + 0.5
    else:
        language = np.where(catalogue.has_languages[rows], catalogue.languages[rows, language_column], 0.5)
    multilingual = dense.get(MULTILINGUAL, zeros)
    return {
        "dense_multilingual": w.dense_multilingual * multilingual,
        "dense_english": w.dense_english * dense.get(ENGLISH, zeros),
        "lexical": w.lexical * lexical,
        "sector_stated": w.sector_stated * stated_sectors,
        "sector_inferred": w.sector_inferred * inferred_sectors,
        "type_stated": w.type_stated
        * _share_of(catalogue.types, need.assistance_types, catalogue.type_column)[rows],
        "type_inferred": w.type_inferred
        * _weighted_share_of(
            catalogue.type_weights,
            evidence.assistance_types,
            catalogue.type_column,
            exclude=need.assistance_types,
        )[rows],
        "concept": w.concept * (catalogue.code_profiles @ query.code_profile)[rows],
        "subsector": w.subsector * subsector_fit(evidence.subsectors, catalogue)[rows],
        "language": w.language * language,
        "country_focus": w.country_focus * country_focus,
        "generality": w.generality * (1.0 - query.specificity) * catalogue.general[rows],
        "unverified": -w.unverified * ~catalogue.verified[rows],
        "budget": -w.budget * budget_gaps(need.budget_usd, catalogue.funding_min, catalogue.funding_max)[rows]
        if need.budget_usd
        else zeros,
        # Until the sentence pass, a candidate's best sentence match is approximated by its
        # whole-text cosine.
        "sentence": w.sentence * multilingual,
    }


def subsector_fit(subsectors: Mapping[str, float], catalogue: Catalogue) -> np.ndarray:
    """Per catalogue row, in [-1, 0]: minus the share of the need's sub-sector evidence whose
    sub-sector the offering is a *specialist of another industry* for.

    An offering is such a specialist for the need's sub-sector ``s`` when it lists no sector
    but ``s``'s own and its description names sub-sectors of that sector, none of them ``s``:
    the cement partnership area for a tin smelter. Everyone else gets 0, broad programmes
    included. (Crediting +1 to every offering whose description names ``s`` was measured
    too and dropped: descriptions name many things in passing, and the credit lifted a
    cosmetics programme that mentions customs for customs requests: dev nDCG@10 0.721 →
    0.693.)"""
    fit = np.zeros(len(catalogue))
    total = sum(score for code, score in subsectors.items() if code in catalogue.subsector_column)
    if total <= 0:
        return fit
    for code, score in subsectors.items():
        column = catalogue.subsector_column.get(code)
        sector = catalogue.sector_column.get(catalogue.subsector_parent.get(code) or "")
        if column is None or sector is None:
            continue
        siblings = [
            catalogue.subsector_column[other]
            for other, parent in catalogue.subsector_parent.items()
            if parent == catalogue.subsector_parent[code] and other != code
        ]
        if not siblings:
            continue
        specialist = (
            (catalogue.sector_count == 1)
            & catalogue.sectors[:, sector]
            & catalogue.subsectors[:, siblings].any(axis=1)
            & ~catalogue.subsectors[:, column]
        )
        fit -= (score / total) * specialist
    return fit


@dataclass(frozen=True)
class SentencePair:
    """The closest need sentence and offering sentence, and their cosine."""

    need: str
    offering: str
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        return {"need": self.need, "offering": self.offering, "similarity": round(self.similarity, 4)}


def best_sentence_pair(
    need_sentences: Sequence[str],
    need_vectors: np.ndarray,
    offering_sentences: Sequence[str],
    offering_vectors: np.ndarray,
) -> SentencePair:
    """The highest cosine between a need sentence and an offering sentence (vectors are
    unit rows aligned with their sentences); ties go to the first pair in row order."""
    similarity = need_vectors @ np.asarray(offering_vectors, dtype=np.float32).T
    need_row, offering_row = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    return SentencePair(
        need=need_sentences[int(need_row)],
        offering=offering_sentences[int(offering_row)],
        similarity=float(similarity[need_row, offering_row]),
    )


def _share_of(members: np.ndarray, codes: Sequence[str], columns: Mapping[str, int]) -> np.ndarray:
    """Per row: the share of ``codes`` the row's membership covers (0 when no codes).
    (Tempering it by the offering's focus, so that programmes listing every sector gain
    less, lowered dev nDCG@10 from 0.645 to 0.605: broad funds are often the right answer.)"""
    picked = [columns[code] for code in codes if code in columns]
    if not codes or not picked:
        return np.zeros(len(members))
    return np.asarray(members[:, picked].sum(axis=1) / len(codes), dtype=float)


def _weighted_share_of(
    members: np.ndarray, scores: Mapping[str, float], columns: Mapping[str, int], *, exclude: Sequence[str]
) -> np.ndarray:
    """Per row: the share of the evidence (code → strength, ``exclude`` left out) covered.
    ``members`` is a float32 0/1 matrix (a bool one would be cast, copied, on every call)."""
    weights = np.zeros(members.shape[1] if members.ndim == 2 else 0, dtype=np.float32)
    for code, score in scores.items():
        if code not in exclude and code in columns:
            weights[columns[code]] = score
    total = weights.sum()
    if total <= 0:
        return np.zeros(len(members))
    return np.asarray(members @ weights / total, dtype=float)


def budget_gap(budget: float | None, low: float | None, high: float | None) -> float:
    """0 inside the range (or when unknown); grows with the log-distance outside it, capped at 1."""
    if budget is None or budget <= 0:
        return 0.0
    if low is not None and budget < low:
        return min(1.0, math.log10(low / budget))
    if high is not None and budget > high:
        return min(1.0, math.log10(budget / high))
    return 0.0


def budget_gaps(budget: float | None, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``budget_gap`` over arrays of funding ranges (NaN = no bound)."""
    if budget is None or budget <= 0:
        return np.zeros(len(low))
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(~np.isnan(low) & (budget < low), np.log10(low / budget), 0.0)
        above = np.where(~np.isnan(high) & (budget > high), np.log10(budget / high), 0.0)
    return np.minimum(1.0, np.nan_to_num(below) + np.nan_to_num(above))
