"""The donor view in one pass: one offering scored against every open need at once.

``RankingEngine.score_pair`` scores one (need, offering) pair by running the need's whole
scoring (eligibility, BM25 over the catalogue, every component) and keeping one row: right
for one pair, far too slow for an offering against a thousand needs. Here the same score is
written the other way round, as arrays over the open needs:

* each open need is kept prepared (``OpenNeed``): its query, Party, vectors, BM25 query terms
  and ``PairScale`` (the best BM25 among its candidates, by which its lexical scores are
  divided);
* ``OpenNeeds`` stacks them into matrices once per set of needs (needs × sectors, × types, ×
  codes, × dimensions, the sentences of all needs), so scoring one offering is a handful of
  matrix-vector products, one BM25 pass of the offering's terms over the needs' query terms,
  and one product of the needs' sentences with the offering's sentences.

Every component is the one ``matcher.engine.components.component_arrays`` computes for the
pair, including the sentence pass and the sub-sector fit, and the three history components
``matcher.engine.history.HistoryEvidence.columns`` adds (each need's past neighbours are
found once per engine history, ``_HistoryLayout``); ``tests/engine/test_donor.py`` checks
the scores and explanations against ``score_pair`` for every pair of the development set. A
component added there must be added here too (that test fails until it is).

The one approximation: a need's ``PairScale`` is computed when the need is prepared (and
again whenever its own ranking is computed); offerings changing afterwards move BM25's
corpus statistics and so the best BM25 among its candidates slightly. The offering being
scored is always counted in that best (``max`` with its own BM25), so a new offering that
outscores every other is normalised exactly as in the need's ranking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.catalogue import Catalogue
from matcher.engine.components import SentencePair
from matcher.engine.domain import PartyProfile
from matcher.engine.history import (
    NO_NEIGHBOURS,
    REGION_PRIOR,
    SAME_PARTY_TRANSFER,
    SHRINK,
    TRANSFER,
    HistoryEvidence,
    Neighbours,
)
from matcher.engine.lexicon import RowCounts, TermMatrix, count_terms
from matcher.engine.query import SENTENCES, NeedQuery
from matcher.engine.ranking import PairScale, RankingEngine
from matcher.engine.text.lexical import sentences


@dataclass(frozen=True)
class OpenNeed:
    """One open need, prepared for the donor view."""

    query: NeedQuery
    party: PartyProfile
    confidential: bool
    vectors: Mapping[str, np.ndarray]  # role -> vector of its text; SENTENCES -> one row per sentence
    terms: RowCounts  # the need-in-English text as BM25 query terms
    scale: PairScale

    @property
    def id(self) -> str:
        return self.query.need.id


def open_need(
    engine: RankingEngine,
    query: NeedQuery,
    party: PartyProfile,
    need_vectors: Mapping[str, np.ndarray],
    *,
    confidential: bool,
    today: dt.date,
    scale: PairScale | None = None,
) -> OpenNeed:
    """``query`` prepared for the donor view (``scale``, when the caller has the need's
    ranking at hand, spares computing it)."""
    return OpenNeed(
        query=query,
        party=party,
        confidential=confidential,
        vectors={role: np.asarray(vector, dtype=np.float32) for role, vector in need_vectors.items()},
        terms=count_terms(query.english_text, engine.catalogue.vocabulary),
        scale=scale or engine.pair_scale(query, party, today),
    )


@dataclass
class DonorMatch:
    """One need in the donor view: its score and components as in the need's own ranking."""

    need_id: str
    score: float
    components: dict[str, float]
    explanation: dict[str, Any]

    def as_result(self) -> dict[str, Any]:
        return {"need_id": self.need_id, "score": round(self.score, 6), "explanation": self.explanation}


@dataclass
class DonorPage:
    """A page of the donor view: ``matches`` from ``offset``, and how many needs qualified."""

    matches: list[DonorMatch]
    total: int


class OpenNeeds:
    """The open needs by id. Immutable: ``changed`` returns a new set; the matrices the donor
    pass reads are built on first use (once per set), so a need write costs a dictionary
    copy and the next donor view pays the stacking (numpy, O(needs))."""

    def __init__(self, needs: Mapping[str, OpenNeed] | None = None) -> None:
        self._needs = dict(needs or {})

    def __len__(self) -> int:
        return len(self._needs)

    def __contains__(self, need_id: object) -> bool:
        return need_id in self._needs

    def __iter__(self) -> Iterator[OpenNeed]:
        return iter(self._needs.values())

    def get(self, need_id: str) -> OpenNeed | None:
        return self._needs.get(need_id)

    def changed(self, updates: Mapping[str, OpenNeed | None]) -> OpenNeeds:
        """A new set where each need of ``updates`` is replaced, added, or (None) removed."""
        if not updates:
            return self
        needs = dict(self._needs)
        for need_id, need in updates.items():
            if need is None:
                needs.pop(need_id, None)
            else:
                needs[need_id] = need
        return OpenNeeds(needs)

    @cached_property
    def _matrices(self) -> _NeedMatrices:
        return _NeedMatrices([self._needs[need_id] for need_id in sorted(self._needs)])

    def rank(
        self,
        engine: RankingEngine,
        offering_id: str,
        *,
        today: dt.date,
        include_confidential: bool = True,
        min_score: float | None = None,
        offset: int = 0,
        limit: int = 10,
        explain_results: bool = True,
    ) -> DonorPage:
        """The open needs ``offering_id`` could serve, best first (ties by need id): those
        whose Party the offering's rules admit, scoring at least ``min_score`` when given;
        ``limit`` of them from ``offset``, with explanations (``explain_results``)."""
        catalogue = engine.catalogue
        row = catalogue.position.get(offering_id)
        if row is None:
            raise KeyError(offering_id)
        matrices = self._matrices
        if matrices.count == 0 or not catalogue.active[row]:
            return DonorPage([], 0)
        keep = matrices.eligible(catalogue, row, today)
        if not include_confidential:
            keep &= ~matrices.confidential
        similarity = matrices.similarities(engine, row)
        history = matrices.history(engine)
        columns = matrices.components(engine, row, similarity)
        columns.update(history.columns(engine, row))
        totals = np.zeros(matrices.count)
        for column in columns.values():
            totals += column
        if min_score is not None:
            # Scores are published rounded to 6 decimals: a need shown with the cut-off's
            # score is kept.
            keep &= totals >= min_score - 5e-7
        chosen = np.flatnonzero(keep)
        order = chosen[np.lexsort((matrices.id_order[chosen], -totals[chosen]))]
        page = order[offset : offset + limit]
        matches = []
        pairs = matrices.sentence_pairs(engine, row, page, similarity) if explain_results else {}
        offering = catalogue.offerings[row]
        for position in page.tolist():
            components = {name: float(column[position]) for name, column in columns.items()}
            need = matrices.needs[position]
            explanation = (
                engine.explain(
                    need.query,
                    need.party,
                    offering,
                    components,
                    pairs.get(position),
                    history.neighbours[position],
                )
                if explain_results
                else {}
            )
            matches.append(DonorMatch(need.id, float(totals[position]), components, explanation))
        return DonorPage(matches, len(order))


class _NeedMatrices:
    """The open needs stacked into arrays (row ``i`` is ``needs[i]``, in id order)."""

    def __init__(self, needs: list[OpenNeed]) -> None:
        self.needs = needs
        self.count = len(needs)
        self.id_order = np.arange(self.count)
        self.confidential = np.array([need.confidential for need in needs], dtype=bool)
        self.iso3 = np.array([need.party.iso3 for need in needs], dtype=object)
        self.lexical_top = np.array([need.scale.lexical_top for need in needs], dtype=np.float64)
        self.terms = TermMatrix([need.terms for need in needs])
        self.specificity = np.array([need.query.specificity for need in needs], dtype=float)
        self.budget = np.array([need.query.need.budget_usd or np.nan for need in needs], dtype=float)
        self._layouts: dict[int, _CodeLayout] = {}
        self._histories: dict[int, _HistoryLayout] = {}
        self.vectors: dict[str, np.ndarray] = {}
        for role in (MULTILINGUAL, ENGLISH):
            if needs and all(role in need.vectors for need in needs):
                self.vectors[role] = np.vstack([need.vectors[role] for need in needs]).astype(np.float32)
        blocks = [
            np.asarray(need.vectors[SENTENCES], dtype=np.float32).reshape(len(need.query.sentences), -1)
            if SENTENCES in need.vectors
            else np.zeros((0, 0), dtype=np.float32)
            for need in needs
        ]
        sizes = np.array([len(block) for block in blocks], dtype=np.int64)
        self.has_sentences = sizes > 0
        self.sentence_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
        kept = [block for block in blocks if len(block)]
        self.sentences = np.vstack(kept) if kept else np.zeros((0, 0), dtype=np.float32)

    def layout(self, catalogue: Catalogue) -> _CodeLayout:
        """The needs' codes as matrices over ``catalogue``'s columns (fixed by the taxonomy;
        one layout per column map)."""
        key = id(catalogue.sector_column)
        found = self._layouts.get(key)
        if found is None:
            found = _CodeLayout(self.needs, catalogue)
            self._layouts = {key: found}
        return found

    def history(self, engine: RankingEngine) -> _HistoryLayout:
        """The needs' past neighbours in ``engine``'s history (one layout per history)."""
        key = id(engine.history)
        found = self._histories.get(key)
        if found is None or found.evidence is not engine.history:
            found = _HistoryLayout(self.needs, engine.history)
            self._histories = {key: found}
        return found

    def eligible(self, catalogue: Catalogue, row: int, today: dt.date) -> np.ndarray:
        """Per need: whether the offering at ``row`` admits its Party on ``today``
        (``eligibility.failed_constraint``, the offering fixed and the Parties varying)."""
        day = today.toordinal()
        if not (
            catalogue.active[row]
            and catalogue.opens[row] <= day <= catalogue.closes[row]
            and not catalogue.full[row]
        ):
            return np.zeros(self.count, dtype=bool)
        layout = self.layout(catalogue)
        ok = np.ones(self.count, dtype=bool)
        if catalogue.has_regions[row]:
            ok &= (layout.region >= 0) & catalogue.regions[row][np.maximum(layout.region, 0)]
        if catalogue.has_countries[row]:
            ok &= np.isin(self.iso3, list(catalogue.countries.get(row, ())))
        if catalogue.has_statuses[row]:
            ok &= (layout.status >= 0) & catalogue.statuses[row][np.maximum(layout.status, 0)]
        return ok

    def components(
        self, engine: RankingEngine, row: int, similarity: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Each weighted component of the score of the offering at ``row`` for every need
        (``component_arrays``' formulas, one offering against many needs); ``similarity`` is
        ``similarities(engine, row)``."""
        catalogue, w = engine.catalogue, engine.weights
        layout = self.layout(catalogue)
        zeros = np.zeros(self.count)
        dense = {}
        for role, matrix in self.vectors.items():
            search = engine.offering_indexes.get(role)
            vector = search.row_vector(row) if search is not None else None
            if vector is not None:
                dense[role] = (matrix @ vector).astype(np.float64)
        multilingual = dense.get(MULTILINGUAL, zeros)
        lexical = catalogue.lexicon.row_scores(row, self.terms).astype(np.float64)
        top = np.maximum(self.lexical_top, lexical)
        with np.errstate(divide="ignore", invalid="ignore"):
            lexical_norm = np.where(top > 0, lexical / np.where(top > 0, top, 1.0), 0.0)
        stated_sectors = layout.stated_sectors @ catalogue.sectors[row].astype(float)
        if catalogue.has_countries[row]:
            country_focus = np.maximum(
                stated_sectors, layout.evidence_sectors @ catalogue.sector_weights[row]
            )
        else:
            country_focus = zeros
        if catalogue.has_languages[row]:
            language = np.where(
                layout.language >= 0, catalogue.languages[row][np.maximum(layout.language, 0)], 0.5
            )
        else:
            language = zeros + 0.5
        budget = _budget_gaps(self.budget, catalogue.funding_min[row], catalogue.funding_max[row])
        columns = {
            "dense_multilingual": w.dense_multilingual * multilingual,
            "dense_english": w.dense_english * dense.get(ENGLISH, zeros),
            "lexical": w.lexical * lexical_norm,
            "sector_stated": w.sector_stated * stated_sectors,
            "sector_inferred": w.sector_inferred * (layout.inferred_sectors @ catalogue.sector_weights[row]),
            "type_stated": w.type_stated * (layout.stated_types @ catalogue.types[row].astype(float)),
            "type_inferred": w.type_inferred * (layout.inferred_types @ catalogue.type_weights[row]),
            "concept": w.concept * (layout.code_profiles @ catalogue.code_profiles[row]).astype(np.float64),
            "subsector": -w.subsector * (layout.subsector_shares @ layout.specialist(catalogue, row)),
            "language": w.language * language.astype(float),
            "country_focus": w.country_focus * country_focus,
            "generality": w.generality * (1.0 - self.specificity) * float(catalogue.general[row]),
            "unverified": zeros - w.unverified * float(not catalogue.verified[row]),
            "budget": -w.budget * budget,
            "sentence": w.sentence * multilingual,
        }
        best = self._best_sentences(similarity)
        if best is not None:
            columns["sentence"] = np.where(self.has_sentences, w.sentence * best, columns["sentence"])
        return {name: np.asarray(column, dtype=np.float64) for name, column in columns.items()}

    def similarities(self, engine: RankingEngine, row: int) -> np.ndarray | None:
        """Cosines of every need sentence (rows) with every sentence of the offering at ``row``."""
        offering = engine.sentences.vectors(row)
        if offering is None or len(offering) == 0 or len(self.sentences) == 0:
            return None
        similarity: np.ndarray = self.sentences @ np.asarray(offering, dtype=np.float32).T
        return similarity

    def _best_sentences(self, similarity: np.ndarray | None) -> np.ndarray | None:
        """Per need: the best cosine of one of its sentences with one of the offering's."""
        if similarity is None:
            return None
        best = np.zeros(self.count)
        with_sentences = np.flatnonzero(self.has_sentences)
        best[with_sentences] = np.maximum.reduceat(
            similarity.max(axis=1), self.sentence_starts[with_sentences]
        )
        return best

    def sentence_pairs(
        self, engine: RankingEngine, row: int, positions: np.ndarray, similarity: np.ndarray | None
    ) -> dict[int, SentencePair]:
        """The best sentence pair of each need at ``positions`` with the offering at ``row``,
        for the explanations (ties to the first pair in row order, as in the ranking)."""
        if similarity is None:
            return {}
        offering_sentences = sentences(engine.catalogue.offerings[row].description)
        pairs = {}
        for position in positions.tolist():
            if not self.has_sentences[position]:
                continue
            need = self.needs[position]
            start = int(self.sentence_starts[position])
            block = similarity[start : start + len(need.query.sentences)]
            need_row, offering_row = np.unravel_index(int(np.argmax(block)), block.shape)
            pairs[position] = SentencePair(
                need=need.query.sentences[int(need_row)],
                offering=offering_sentences[int(offering_row)],
                similarity=float(block[need_row, offering_row]),
            )
        return pairs


class _CodeLayout:
    """The needs' codes against a catalogue's column maps: for each share the score takes
    (``components._share_of`` and ``_weighted_share_of``), the matrix whose product with one
    offering's membership row gives it for every need."""

    def __init__(self, needs: list[OpenNeed], catalogue: Catalogue) -> None:
        count = len(needs)
        sectors, types = catalogue.sector_column, catalogue.type_column
        self.stated_sectors = np.zeros((count, len(sectors)))
        self.inferred_sectors = np.zeros((count, len(sectors)), dtype=np.float32)
        self.evidence_sectors = np.zeros((count, len(sectors)), dtype=np.float32)
        self.stated_types = np.zeros((count, len(types)))
        self.inferred_types = np.zeros((count, len(types)), dtype=np.float32)
        width = catalogue.code_profiles.shape[1]
        subsectors = catalogue.subsector_column
        self.subsector_shares = np.zeros((count, len(subsectors)))
        # Per sub-sector column: its sector's column (-1: none) and its siblings (the other
        # sub-sectors of that sector), for ``specialist``.
        self.subsector_sector = np.full(len(subsectors), -1, dtype=np.int64)
        self.siblings = np.zeros((len(subsectors), len(subsectors)), dtype=bool)
        for code, column in subsectors.items():
            parent = catalogue.subsector_parent.get(code) or ""
            self.subsector_sector[column] = catalogue.sector_column.get(parent, -1)
            for other, other_parent in catalogue.subsector_parent.items():
                if other_parent == catalogue.subsector_parent[code] and other != code and other in subsectors:
                    self.siblings[column, subsectors[other]] = True
        self.code_profiles = np.zeros((count, width), dtype=np.float32)
        self.language = np.full(count, -1, dtype=np.int64)
        self.region = np.full(count, -1, dtype=np.int64)
        self.status = np.full(count, -1, dtype=np.int64)
        for number, open_need in enumerate(needs):
            query, need = open_need.query, open_need.query.need
            _share_row(self.stated_sectors[number], need.sectors, sectors)
            _share_row(self.stated_types[number], need.assistance_types, types)
            _weighted_row(self.inferred_sectors[number], query.evidence.sectors, sectors, need.sectors)
            _weighted_row(self.evidence_sectors[number], query.evidence.sectors, sectors, ())
            _weighted_row(
                self.inferred_types[number], query.evidence.assistance_types, types, need.assistance_types
            )
            _subsector_row(self.subsector_shares[number], query.evidence.subsectors, subsectors)
            if len(query.code_profile) == width:
                self.code_profiles[number] = query.code_profile
            self.language[number] = catalogue.language_column.get(need.language or "", -1)
            self.region[number] = catalogue.region_column.get(open_need.party.region, -1)
            self.status[number] = catalogue.status_column.get(open_need.party.status, -1)

    def specialist(self, catalogue: Catalogue, row: int) -> np.ndarray:
        """Per sub-sector column: whether the offering at ``row`` is a specialist of another
        industry of that sub-sector's sector (``components.subsector_fit``, one offering)."""
        if catalogue.sector_count[row] != 1:
            return np.zeros(len(self.subsector_sector))
        mentioned = catalogue.subsectors[row]
        in_sector = np.where(
            self.subsector_sector >= 0, catalogue.sectors[row][np.maximum(self.subsector_sector, 0)], False
        )
        found: np.ndarray = in_sector & (self.siblings & mentioned).any(axis=1) & ~mentioned
        return found.astype(float)


class _HistoryLayout:
    """The needs against one engine history (``HistoryEvidence``): each need's past
    neighbours, flattened so that the history components of one offering for every need are
    a few ``bincount`` passes (``HistoryEvidence.columns``, the offering fixed and the needs
    varying)."""

    def __init__(self, needs: list[OpenNeed], evidence: HistoryEvidence) -> None:
        self.evidence = evidence
        count = len(needs)
        self.count = count
        self.neighbours: list[Neighbours] = [
            evidence.neighbours(need.vectors.get(MULTILINGUAL), need.id) if len(evidence) else NO_NEIGHBOURS
            for need in needs
        ]
        self.denominator = np.array([found.total + SHRINK for found in self.neighbours])
        self.need = np.concatenate(
            [
                np.full(len(found.indices), number, dtype=np.int64)
                for number, found in enumerate(self.neighbours)
            ]
            or [np.zeros(0, dtype=np.int64)]
        )
        self.record = np.concatenate(
            [found.indices.astype(np.int64) for found in self.neighbours] or [np.zeros(0, dtype=np.int64)]
        )
        self.weight = np.concatenate([found.weights for found in self.neighbours] or [np.zeros(0)])
        records = evidence.history.records
        parties = [need.party.iso3 for need in needs]
        self.same_party = np.array(
            [
                records[index].need.party == parties[number]
                for number, index in zip(self.need.tolist(), self.record.tolist(), strict=True)
            ],
            dtype=bool,
        )
        self.region = np.array([need.party.region for need in needs], dtype=object)
        self.own = np.array([evidence.by_need.get(need.id, -1) for need in needs], dtype=np.int64)
        self.code_profiles = (
            np.vstack([need.query.code_profile for need in needs]).astype(np.float32)
            if needs and evidence.profiles is not None
            else None
        )
        # Declines by catalogue row: row -> [(record, kind)].
        self.declined: dict[int, list[tuple[int, str]]] = {}
        for index, declined in enumerate(evidence.declined_rows):
            for declined_row, kind in declined:
                self.declined.setdefault(declined_row, []).append((index, kind))

    def columns(self, engine: RankingEngine, row: int) -> dict[str, np.ndarray]:
        """The weighted history components of the offering at ``row`` for every need."""
        w, evidence = engine.weights, self.evidence
        zeros = np.zeros(self.count)
        if len(evidence) == 0:
            return {"history_served": zeros, "history_region": zeros.copy(), "history_rejected": zeros.copy()}
        size = len(evidence)
        serves = np.zeros(size)
        served_by = evidence.records_by_row.get(row, [])
        serves[served_by] = 1.0
        served = np.bincount(self.need, weights=self.weight * serves[self.record], minlength=self.count)
        other, same = np.zeros(size), np.zeros(size)
        for index, kind in self.declined.get(row, []):
            other[index] += TRANSFER[kind]
            same[index] += SAME_PARTY_TRANSFER[kind]
        transfer = np.where(self.same_party, same[self.record], other[self.record])
        rejected = np.bincount(self.need, weights=self.weight * transfer, minlength=self.count)
        in_region = zeros.copy()
        records = evidence.history.records
        regional = [index for index in served_by if records[index].region]
        if regional:
            members = np.array(regional, dtype=np.int64)
            if evidence.profiles is not None and self.code_profiles is not None:
                weights = np.clip(self.code_profiles @ evidence.profiles[members].T, 0.0, None).astype(float)
            else:
                weights = np.ones((self.count, len(members)))
            regions = np.array([records[index].region for index in regional], dtype=object)
            counted = (self.region[:, None] == regions[None, :]) & (self.own[:, None] != members[None, :])
            in_region = (weights * counted).sum(axis=1)
        return {
            "history_served": w.history_served * (served / self.denominator),
            "history_region": w.history_region * (in_region / (in_region + REGION_PRIOR)),
            "history_rejected": -w.history_rejected * np.minimum(1.0, rejected / self.denominator),
        }


def _subsector_row(out: np.ndarray, scores: Mapping[str, float], columns: Mapping[str, int]) -> None:
    """The need's share of sub-sector evidence per column (``subsector_fit``'s ``score / total``)."""
    total = sum(score for code, score in scores.items() if code in columns)
    if total <= 0:
        return
    for code, score in scores.items():
        if code in columns:
            out[columns[code]] += score / total


def _share_row(out: np.ndarray, codes: tuple[str, ...], columns: Mapping[str, int]) -> None:
    """``_share_of`` as a row: each known code weighs 1/len(codes) (nothing when none is known)."""
    picked = [columns[code] for code in codes if code in columns]
    if codes and picked:
        for column in picked:
            out[column] += 1.0 / len(codes)


def _weighted_row(
    out: np.ndarray,
    scores: Mapping[str, float],
    columns: Mapping[str, int],
    exclude: tuple[str, ...] | tuple[()],
) -> None:
    """``_weighted_share_of`` as a row: the evidence weights, divided by their total."""
    for code, score in scores.items():
        if code not in exclude and code in columns:
            out[columns[code]] = score
    total = out.sum()
    if total > 0:
        out /= total
    else:
        out[:] = 0


def _budget_gaps(budgets: np.ndarray, low: float, high: float) -> np.ndarray:
    """``components.budget_gap`` for many budgets (NaN: none) against one funding range
    (NaN bounds: none); 0 for a need without a budget."""
    gaps = np.zeros(len(budgets))
    given = ~np.isnan(budgets) & (budgets > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if not np.isnan(low):
            below = given & (budgets < low)
            gaps[below] = np.log10(low / budgets[below])
        if not np.isnan(high):
            above = given & (budgets > high)
            gaps[above] = np.log10(budgets[above] / high)
    return np.minimum(1.0, gaps)
