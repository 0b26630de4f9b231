"""The ranking engine: a prepared need → ranked, explained offerings (and one pair's score).

Pure: it takes plain records (``matcher.engine.domain``), a prepared need
(``matcher.engine.query``), the need's vectors and weights, and returns results. No HTTP,
no database session, no settings lookups, so the CLI, the API and the evaluation harness
share it; ``matcher.engine.builder`` assembles it the same way for all of them.

The flow of one ranking, each step in its own module:

1. eligibility over the catalogue's columns (``catalogue``; the rule is ``eligibility``);
2. evidence: BM25 over the need-in-English text, dense search of each encoder role inside
   its vector index restricted to the eligible rows (``RowSearch``; candidates beyond
   ``dense_depth`` get the lowest score retrieved), and every other score component as
   arrays over the candidates (``components``, where the score is written out);
3. the history's evidence (``history``: similar past needs the offering served or turned
   down, its record in the region) as three more components;
4. the ``rerank_depth`` best get the sentence pass (their best sentence pair), then order
   (by score, ties by offering id; a promoted learned model re-orders the head, ``reranker``),
   an umbrella folded under its member (``umbrellas``) and diversity (``_diversify``) — here;
5. explanations of the results (``explanations``), with the offering's track record and
   the umbrella it belongs to.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.catalogue import Catalogue
from matcher.engine.codes import CodeSpace
from matcher.engine.components import SentencePair, best_sentence_pair, component_arrays
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.explanations import NOTICE, explain
from matcher.engine.history import NO_NEIGHBOURS, History, HistoryEvidence, Neighbours
from matcher.engine.query import SENTENCES, NeedQuery, QueryBuilder
from matcher.engine.reranker import HAND_SET, LinearReranker, reorder
from matcher.engine.text.lexical import LexicalIndex
from matcher.engine.text.tagging import Glossary, KeywordTagger, TagEvidence
from matcher.engine.umbrellas import folded, members_of
from matcher.engine.weights import RankingWeights
from matcher.taxonomy import Taxonomy

# The role keys, NOTICE and RankingWeights were imported from here before the engine was
# split; they stay importable from here so that callers need not change.
__all__ = [
    "ENGINE_VERSION",
    "ENGLISH",
    "MULTILINGUAL",
    "NOTICE",
    "SENTENCES",
    "RankedOffering",
    "Ranking",
    "RankingEngine",
    "RankingWeights",
    "RowSearch",
]

ENGINE_VERSION = "hybrid-3"  # hybrid-2 plus history evidence and umbrellas folded under members


class RowSearch(Protocol):
    """Dense search over the engine's offerings, addressed by row (``offerings[row]``).

    ``matcher.embeddings.index.RowView`` implements it over a FAISS index; a test may
    implement it over a plain matrix."""

    def search_rows(self, vector: np.ndarray, rows: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``depth`` of ``rows`` by cosine with ``vector``, best first, as ``(rows,
        scores)``; rows it holds no vector for are never returned."""
        ...


@dataclass
class RankedOffering:
    offering: OfferingProfile
    score: float
    components: dict[str, float]
    explanation: dict[str, Any]

    def as_result(self) -> dict[str, Any]:
        return {
            "offering_id": self.offering.id,
            "score": round(self.score, 6),
            "explanation": self.explanation,
        }


@dataclass
class Ranking:
    """One need's ranked results, what eligibility removed, and the query they came from."""

    need_id: str
    results: list[RankedOffering]
    removed: dict[str, int]
    candidates: int
    query: NeedQuery
    engine_version: str = ENGINE_VERSION
    model_version: str = HAND_SET  # the learned model that ordered it, or HAND_SET

    @property
    def evidence(self) -> TagEvidence:
        return self.query.evidence

    @property
    def specificity(self) -> float:
        return self.query.specificity


@dataclass
class _Scored:
    ranked: list[RankedOffering]
    candidates: int
    removed: dict[str, int]
    pairs: dict[str, SentencePair] = field(default_factory=dict)
    neighbours: Neighbours = NO_NEIGHBOURS


class RankingEngine:
    """Ranks offerings for needs. Build once per catalogue state (``matcher.engine.builder``);
    ``prepare``, ``rank`` and ``score_pair`` are read-only, so one engine serves many threads.

    ``offerings`` are every offering, active or not (eligibility removes the inactive ones).
    ``offering_indexes`` maps an encoder role (``MULTILINGUAL``, ``ENGLISH``) to a dense
    search over the same rows (row ``r`` is ``offerings[r]``) holding every active offering;
    a role left out contributes nothing. ``offering_sentences`` maps an active offering's id
    to its description's sentences and their multilingual vectors. ``reuse``, the previous
    engine over the same taxonomy, lends its tagger, glossary and per-offering artefacts.
    ``history`` (embedded past needs, ``matcher.engine.history``) adds its evidence; empty, it
    adds exactly zero. ``reranker``, a promoted learned model, re-orders the head of each
    ranking (scores keep the hand-set scale); ``with_history`` swaps both cheaply.
    """

    def __init__(
        self,
        *,
        offerings: Sequence[OfferingProfile],
        offering_indexes: Mapping[str, RowSearch],
        taxonomy: Taxonomy,
        weights: RankingWeights | None = None,
        tagger: KeywordTagger | None = None,
        offering_sentences: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None,
        glossary: Glossary | None = None,
        dense_depth: int = 400,
        rerank_depth: int = 100,
        reuse: RankingEngine | None = None,
        history: History | None = None,
        reranker: LinearReranker | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.weights = weights or RankingWeights()
        self.tagger: KeywordTagger = tagger or (
            reuse.tagger if reuse is not None else KeywordTagger(taxonomy)
        )
        if glossary is None:
            glossary = reuse.glossary if reuse is not None else {}
        codes = reuse.queries.codes if reuse is not None else CodeSpace(taxonomy)
        self.queries: QueryBuilder = QueryBuilder(taxonomy, self.tagger, glossary, codes)
        self.catalogue: Catalogue = Catalogue(
            offerings,
            taxonomy=taxonomy,
            tagger=self.tagger,
            codes=codes,
            reuse=reuse.catalogue if reuse is not None else None,
        )
        self.offering_indexes = dict(offering_indexes)
        self.offering_sentences = dict(offering_sentences or {})
        self.dense_depth = dense_depth
        self.rerank_depth = rerank_depth
        self.lexical = LexicalIndex([offering.text for offering in self.offerings])
        self.members = members_of(self.offerings)
        # Code profiles of past needs by need, shared by the copies ``with_history`` makes,
        # so a new decision tags only the need it is about.
        self._past_profiles: dict[NeedProfile, np.ndarray] = reuse._past_profiles if reuse is not None else {}
        self._bind_history(history or History(), reranker)

    def _bind_history(self, history: History, reranker: LinearReranker | None) -> None:
        profiles = None
        if len(history):
            for record in history.records:
                if record.need not in self._past_profiles:
                    self._past_profiles[record.need] = self.prepare(record.need).code_profile
            profiles = np.vstack([self._past_profiles[record.need] for record in history.records])
        self.history = HistoryEvidence(history, self.catalogue.position, len(self.catalogue), profiles)
        self.reranker = reranker

    def with_history(self, history: History, reranker: LinearReranker | None = None) -> RankingEngine:
        """This engine with another history and re-ranker: everything else (catalogue,
        indexes, tagger, lexical index) is shared, so a decision or an import costs only the
        history's binding to the catalogue."""
        engine = copy.copy(self)
        engine._bind_history(history, reranker)
        return engine

    @property
    def model_version(self) -> str:
        return self.reranker.version if self.reranker is not None else HAND_SET

    @property
    def offerings(self) -> list[OfferingProfile]:
        return self.catalogue.offerings

    @property
    def glossary(self) -> Glossary:
        return self.queries.glossary

    def prepare(self, need: NeedProfile, evidence: TagEvidence | None = None) -> NeedQuery:
        """``need`` prepared for ``rank``, ``score_pair`` and coaching (see ``QueryBuilder.prepare``)."""
        return self.queries.prepare(need, evidence)

    def eligible(self, party: PartyProfile, today: dt.date) -> tuple[np.ndarray, dict[str, int]]:
        """Rows eligible for ``party`` and removals per constraint (``Catalogue.eligible``)."""
        return self.catalogue.eligible(party, today)

    def rank(
        self,
        query: NeedQuery,
        party: PartyProfile,
        *,
        need_vectors: Mapping[str, np.ndarray],
        k: int = 10,
        today: dt.date | None = None,
    ) -> Ranking:
        """Rank the offerings eligible for ``party`` against the prepared need ``query``.

        ``need_vectors`` maps an encoder role to the vector of that role's text in
        ``query.texts()`` and ``SENTENCES`` to the sentence vectors (``builder.embed_query``).
        At most ``k`` results; ties break by offering id.
        """
        window = max(k, 10)
        head = max(self.rerank_depth, 2 * window)  # room for the diversity step to push some down
        scored = self._score(query, party, need_vectors, today or dt.date.today(), head=head)
        ordered = reorder(scored.ranked, self.reranker)
        umbrellas = folded(self._window(ordered, window), self.members)
        if umbrellas:
            ordered = [item for item in ordered if item.offering.id not in umbrellas]
        results = self._diversify(ordered, k)[:k]
        for item in results:
            item.explanation = self._explain(query, party, item, scored, umbrellas)
        return Ranking(
            query.need.id,
            results,
            scored.removed,
            scored.candidates,
            query,
            model_version=self.model_version,
        )

    def score_pair(
        self,
        query: NeedQuery,
        party: PartyProfile,
        offering_id: str,
        *,
        need_vectors: Mapping[str, np.ndarray],
        today: dt.date | None = None,
    ) -> RankedOffering | None:
        """The score and explanation ``offering_id`` gets in the ranking of ``query`` (the same
        numbers ``rank`` gives it, before the diversity step), or None when the offering is
        not a candidate for ``party``. This is the donor view's building block."""
        scored = self._score(query, party, need_vectors, today or dt.date.today(), focus=offering_id)
        if not scored.ranked:
            return None
        item = scored.ranked[0]
        item.explanation = self._explain(query, party, item, scored, set())
        return item

    def _explain(
        self,
        query: NeedQuery,
        party: PartyProfile,
        item: RankedOffering,
        scored: _Scored,
        umbrellas: set[str],
    ) -> dict[str, Any]:
        """``explain`` plus what this module adds: the offering's track record, the umbrella
        it belongs to (and whether that umbrella was folded under it), the model's value."""
        offering = item.offering
        explanation = explain(query, offering, item.components, self.catalogue, scored.pairs.get(offering.id))
        record = self.history.track_record(
            self.catalogue.position[offering.id], scored.neighbours, query.need.id, party, self.taxonomy
        )
        if record is not None:
            explanation["track_record"] = record
        umbrella = self.members.get(offering.id)
        if umbrella is not None:
            parent = self.catalogue.offerings[self.catalogue.position[umbrella]]
            explanation["part_of"] = {
                "offering_id": umbrella,
                "title": parent.title,
                "folded": umbrella in umbrellas,
            }
        if self.reranker is not None:
            explanation["model"] = {
                "version": self.reranker.version,
                "value": round(self.reranker.value(item.components), 6),
            }
        return explanation

    def _window(self, ordered: Sequence[RankedOffering], window: int) -> list[str]:
        """Ids of the first ``window`` of ``ordered`` under the provider cap (what
        ``_diversify`` shows when the soft penalty is 0, its default)."""
        shown: list[str] = []
        per_provider: dict[str, int] = {}
        for item in ordered:
            if len(shown) >= window:
                break
            count = per_provider.get(item.offering.provider_id, 0)
            if count < self.weights.provider_cap:
                per_provider[item.offering.provider_id] = count + 1
                shown.append(item.offering.id)
        return shown

    def _score(
        self,
        query: NeedQuery,
        party: PartyProfile,
        need_vectors: Mapping[str, np.ndarray],
        today: dt.date,
        focus: str | None = None,
        head: int | None = None,
    ) -> _Scored:
        """Score every candidate (or only ``focus``) as arrays, then materialise the best
        ``head`` (default ``rerank_depth``) with their components, run the sentence pass on
        them and sort them, best first.

        Lexical scores are normalised by the best BM25 among all candidates even when only
        ``focus`` is scored, so a pair's score does not depend on which side asked.
        """
        catalogue = self.catalogue
        rows, removed = catalogue.eligible(party, today)
        scored = _Scored([], len(rows), removed)
        if len(rows) == 0:
            return scored
        lexical = self.lexical.score_all(query.english_text)[rows]
        top = float(lexical.max())
        lexical_norm = lexical / top if top > 0 else np.zeros_like(lexical)
        if focus is not None:
            keep = np.flatnonzero(rows == catalogue.position.get(focus, -1))
            if len(keep) == 0:
                return scored
            rows, lexical_norm = rows[keep], lexical_norm[keep]
        dense = {
            role: self._dense_scores(role, need_vectors[role], rows)
            for role in self.offering_indexes
            if role in need_vectors
        }
        columns = component_arrays(query, catalogue, rows, dense, lexical_norm, self.weights)
        scored.neighbours = self.history.neighbours(need_vectors.get(MULTILINGUAL), query.need.id)
        evidence = self.history.columns(scored.neighbours, query.need.id, party, rows, query.code_profile)
        columns["history_served"] = self.weights.history_served * evidence["history_served"]
        columns["history_region"] = self.weights.history_region * evidence["history_region"]
        columns["history_rejected"] = -self.weights.history_rejected * evidence["history_rejected"]
        totals = np.zeros(len(rows))
        for column in columns.values():
            totals += column
        size = min(len(rows), head or self.rerank_depth)
        chosen = np.argpartition(-totals, size - 1)[:size] if size < len(rows) else np.arange(len(rows))
        chosen = chosen[np.lexsort((catalogue.id_rank[rows[chosen]], -totals[chosen]))]
        names = list(columns)
        for position in chosen:
            components = {name: float(columns[name][position]) for name in names}
            offering = catalogue.offerings[int(rows[position])]
            scored.ranked.append(RankedOffering(offering, sum(components.values()), components, {}))
        scored.pairs = self._sentence_pass(scored.ranked, need_vectors.get(SENTENCES), query)
        scored.ranked.sort(key=lambda item: (-item.score, item.offering.id))
        return scored

    def _dense_scores(self, role: str, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of the need with each candidate row, searched inside the index to
        ``dense_depth``; candidates beyond that depth get the lowest score retrieved."""
        depth = min(len(rows), self.dense_depth)
        found_rows, found_scores = self.offering_indexes[role].search_rows(vector, rows, depth)
        floor = float(found_scores.min()) if len(found_scores) else 0.0
        by_row = np.full(len(self.catalogue), floor, dtype=np.float32)
        by_row[found_rows] = found_scores
        return by_row[rows]

    def _sentence_pass(
        self, head: Sequence[RankedOffering], need_sentences: np.ndarray | None, query: NeedQuery
    ) -> dict[str, SentencePair]:
        """Replace the sentence component of ``head`` (in place) by the weighted cosine of
        each offering's best sentence pair, and return the pairs, for the explanations."""
        pairs: dict[str, SentencePair] = {}
        if need_sentences is None or len(need_sentences) == 0:
            return pairs
        matrix = np.asarray(need_sentences, dtype=np.float32).reshape(len(query.sentences), -1)
        for item in head:
            stored = self.offering_sentences.get(item.offering.id)
            if stored is None:
                continue
            offering_texts, vectors = stored
            pair = best_sentence_pair(query.sentences, matrix, offering_texts, vectors)
            item.score -= item.components["sentence"]
            item.components["sentence"] = self.weights.sentence * pair.similarity
            item.score += item.components["sentence"]
            pairs[item.offering.id] = pair
        return pairs

    def _diversify(self, ranked: list[RankedOffering], k: int) -> list[RankedOffering]:
        """Soft, then hard diversity over the top ``max(k, 10)``.

        Picking greedily, each offering loses ``weights.provider_repeat`` for every offering
        of its provider already picked (several programmes of one organisation can all be
        right, so this only breaks near-ties), and no provider gets more than
        ``weights.provider_cap`` places. The rest follow in score order.
        """
        window = max(k, 10)
        penalty = self.weights.provider_repeat
        remaining = list(ranked)
        kept: list[RankedOffering] = []
        per_provider: dict[str, int] = {}
        while remaining and len(kept) < window:
            best_index, best_value = -1, -math.inf
            for index, item in enumerate(remaining):
                count = per_provider.get(item.offering.provider_id, 0)
                if count >= self.weights.provider_cap:
                    continue
                value = item.score - penalty * count
                if value > best_value + 1e-12:
                    best_index, best_value = index, value
                if penalty == 0 or index > 4 * window:
                    break
            if best_index < 0:
                break
            item = remaining.pop(best_index)
            if item.score != best_value:
                item.components["provider_repeat"] = best_value - item.score
                item.score = best_value
            per_provider[item.offering.provider_id] = per_provider.get(item.offering.provider_id, 0) + 1
            kept.append(item)
        return kept + remaining
