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
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.catalogue import ArtefactLookup, Catalogue
from matcher.engine.codes import CodeSpace
from matcher.engine.components import SentencePair, component_arrays
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.explanations import NOTICE, explain
from matcher.engine.history import NO_NEIGHBOURS, History, HistoryEvidence, Neighbours
from matcher.engine.lexicon import Vocabulary
from matcher.engine.query import SENTENCES, NeedQuery, QueryBuilder
from matcher.engine.reranker import HAND_SET, LinearReranker, reorder
from matcher.engine.sentence_vectors import SentenceVectors
from matcher.engine.text.lexical import sentences
from matcher.engine.text.tagging import Glossary, KeywordTagger, TagEvidence
from matcher.engine.umbrellas import folded, members_of, provider_members
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
    "PairScale",
    "RankedOffering",
    "Ranking",
    "RankingEngine",
    "RankingWeights",
    "RowSearch",
]

# hybrid-3 (history evidence, umbrellas folded under members) with description-sentence vectors
# stored as float16 (a pair score moves by about 1e-4; the dev set's top-10 rankings are unchanged).
ENGINE_VERSION = "hybrid-4"


class RowSearch(Protocol):
    """Dense search over the engine's offerings, addressed by row (``offerings[row]``).

    ``matcher.embeddings.index.RowView`` implements it over a FAISS index; a test may
    implement it over a plain matrix."""

    def search_rows(self, vector: np.ndarray, rows: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``depth`` of ``rows`` by cosine with ``vector``, best first, as ``(rows,
        scores)``; rows it holds no vector for are never returned."""
        ...

    def row_vector(self, row: int) -> np.ndarray | None:
        """The vector it holds for ``row`` (None if none): the donor view scores one offering's
        vector against every open need."""
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
    scale: PairScale | None = None  # what the need's pairs borrow from this ranking

    @property
    def evidence(self) -> TagEvidence:
        return self.query.evidence

    @property
    def specificity(self) -> float:
        return self.query.specificity


@dataclass(frozen=True)
class PairScale:
    """What a pair's score borrows from the rest of its need's ranking: the best BM25 among
    the need's candidates (each lexical score is divided by it). A pair's dense scores are
    its own cosines (``score_pair`` searches the one offering), so nothing else is borrowed.
    The donor view scores pairs with it (``matcher.engine.donor``)."""

    lexical_top: float


class _Pairs:
    """Best sentence pairs of the head, by offering id: similarities are computed for the
    whole head, the texts only for what an explanation shows."""

    def __init__(self, query: NeedQuery) -> None:
        self._query = query
        self._found: dict[str, tuple[OfferingProfile, int, int, float]] = {}

    def add(self, offering: OfferingProfile, need_row: int, offering_row: int, similarity: float) -> None:
        self._found[offering.id] = (offering, need_row, offering_row, similarity)

    def get(self, offering_id: str) -> SentencePair | None:
        found = self._found.get(offering_id)
        if found is None:
            return None
        offering, need_row, offering_row, similarity = found
        return SentencePair(
            need=self._query.sentences[need_row],
            offering=sentences(offering.description)[offering_row],
            similarity=similarity,
        )

    def __contains__(self, offering_id: object) -> bool:
        return offering_id in self._found


@dataclass
class _Scored:
    ranked: list[RankedOffering]
    candidates: int
    removed: dict[str, int]
    pairs: _Pairs | None = None
    scale: PairScale | None = None
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
        offering_sentences: SentenceVectors | Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None,
        glossary: Glossary | None = None,
        dense_depth: int = 400,
        rerank_depth: int = 100,
        reuse: RankingEngine | None = None,
        known: ArtefactLookup | None = None,
        vocabulary: Vocabulary | None = None,
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
            known=known,
            vocabulary=vocabulary,
        )
        self.offering_indexes = dict(offering_indexes)
        if isinstance(offering_sentences, SentenceVectors):
            self.sentences = offering_sentences
        else:
            given = offering_sentences or {}
            dimension = next((len(vectors[0]) for _, vectors in given.values() if len(vectors)), 0)
            self.sentences = SentenceVectors.of(
                [given[o.id][1] if o.id in given else None for o in self.catalogue.offerings], dimension
            )
        self.dense_depth = dense_depth
        self.rerank_depth = rerank_depth
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

    def _members_after(self, catalogue: Catalogue, offerings: Sequence[OfferingProfile]) -> dict[str, str]:
        """``members_of(catalogue.offerings)`` after ``offerings`` changed, recomputing only
        the organisations they touch: their old and new providers, and those whose entries
        name a new offering as their parent (an explicit parent must be a known offering)."""
        before = self.catalogue
        touched: set[str] = set()
        added: set[str] = set()
        for offering in offerings:
            row = before.position.get(offering.id)
            if row is None:
                added.add(offering.id)
            else:
                old = before.offerings[row]
                if _umbrella_fields(old) == _umbrella_fields(offering):
                    continue
                touched.add(old.provider_id)
            touched.add(offering.provider_id)
        if added:
            touched |= {o.provider_id for o in catalogue.offerings if o.parent in added}
        if not touched:
            return self.members
        entries: dict[str, list[OfferingProfile]] = {provider: [] for provider in touched}
        for offering in catalogue.offerings:
            if offering.provider_id in touched:
                entries[offering.provider_id].append(offering)
        members = {
            member: umbrella
            for member, umbrella in self.members.items()
            if before.offerings[before.position[member]].provider_id not in touched
        }
        for group in entries.values():
            members.update(provider_members(group, catalogue.position))
        return members

    @property
    def model_version(self) -> str:
        return self.reranker.version if self.reranker is not None else HAND_SET

    def with_changes(
        self,
        offerings: Sequence[OfferingProfile],
        sentence_vectors: Mapping[str, np.ndarray | None],
        offering_indexes: Mapping[str, RowSearch],
    ) -> RankingEngine:
        """A new engine where each of ``offerings`` replaces the offering with its id (or is
        added), ``sentence_vectors`` gives the new sentence vectors of changed offerings (None
        for an offering that has none now, e.g. deactivated) and ``offering_indexes`` searches
        the new rows. Everything else is shared with this engine, which stays valid."""
        engine = copy.copy(self)
        engine.catalogue = self.catalogue.changed(offerings)
        position = engine.catalogue.position
        engine.sentences = self.sentences.changed(
            {position[offering_id]: vectors for offering_id, vectors in sentence_vectors.items()}
        )
        engine.offering_indexes = dict(offering_indexes)
        engine.members = self._members_after(engine.catalogue, offerings)
        if len(engine.catalogue) != len(self.catalogue):
            # New rows: the history's evidence is bound to row numbers and the row count.
            engine._bind_history(self.history.history, self.reranker)
        return engine

    @property
    def offerings(self) -> list[OfferingProfile]:
        return self.catalogue.offerings

    @property
    def glossary(self) -> Glossary:
        return self.queries.glossary

    @property
    def offering_sentences(self) -> Mapping[str, tuple[list[str], np.ndarray]]:
        """Each offering's description sentences and their vectors (float16), by id, for the
        offerings that have them (the active ones, with a multilingual encoder)."""
        return _SentencesById(self.catalogue, self.sentences)

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
            item.explanation = self.explain(
                query,
                party,
                item.offering,
                item.components,
                _pair(scored, item.offering.id),
                scored.neighbours,
                umbrellas,
            )
        return Ranking(
            query.need.id,
            results,
            scored.removed,
            scored.candidates,
            query,
            model_version=self.model_version,
            scale=scored.scale,
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
        item.explanation = self.explain(
            query, party, item.offering, item.components, _pair(scored, offering_id), scored.neighbours
        )
        return item

    def explain(
        self,
        query: NeedQuery,
        party: PartyProfile,
        offering: OfferingProfile,
        components: Mapping[str, float],
        pair: SentencePair | None,
        neighbours: Neighbours,
        umbrellas: Set[str] = frozenset(),
    ) -> dict[str, Any]:
        """``explanations.explain`` plus what this module adds: the offering's track record
        (``neighbours``: the need's past neighbours, ``HistoryEvidence.neighbours``), the
        umbrella it belongs to (and whether that umbrella was folded under it, ``umbrellas``),
        the model's value. The donor view explains its pairs with it too."""
        explanation = explain(query, offering, components, self.catalogue, pair)
        record = self.history.track_record(
            self.catalogue.position[offering.id], neighbours, query.need.id, party, self.taxonomy
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
                "value": round(self.reranker.value(components), 6),
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

    def pair_scale(self, query: NeedQuery, party: PartyProfile, today: dt.date) -> PairScale:
        """The ``PairScale`` of ``query``'s ranking for ``party`` on ``today`` (what ``rank``
        and ``score_pair`` compute before scoring), for scoring pairs apart from a ranking."""
        rows, _ = self.catalogue.eligible(party, today)
        if len(rows) == 0:
            return PairScale(0.0)
        return PairScale(float(self.catalogue.lexicon.score_all(query.english_text)[rows].max()))

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
        lexical = catalogue.lexicon.score_all(query.english_text)[rows]
        top = float(lexical.max())
        lexical_norm = lexical / top if top > 0 else np.zeros_like(lexical)
        if focus is not None:
            keep = np.flatnonzero(rows == catalogue.position.get(focus, -1))
            if len(keep) == 0:
                return scored
            rows, lexical_norm = rows[keep], lexical_norm[keep]
        scored.scale = PairScale(top)
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
    ) -> _Pairs:
        """Replace the sentence component of ``head`` (in place) by the weighted cosine of
        each offering's best sentence pair (``components.best_sentence_pair``: the highest
        cosine, ties to the first pair in row order), and return the pairs, for the
        explanations. One matrix product for the whole head."""
        pairs = _Pairs(query)
        if need_sentences is None or len(need_sentences) == 0:
            return pairs
        matrix = np.asarray(need_sentences, dtype=np.float32).reshape(len(query.sentences), -1)
        position = self.catalogue.position
        blocks: list[tuple[RankedOffering, np.ndarray]] = []
        for item in head:
            vectors = self.sentences.vectors(position[item.offering.id])
            if vectors is not None and len(vectors):
                blocks.append((item, vectors))
        if not blocks:
            return pairs
        stacked = np.concatenate([vectors for _, vectors in blocks]).astype(np.float32)
        similarity: np.ndarray = matrix @ stacked.T
        start = 0
        for item, vectors in blocks:
            block = similarity[:, start : start + len(vectors)]
            start += len(vectors)
            need_row, offering_row = np.unravel_index(int(np.argmax(block)), block.shape)
            best = float(block[need_row, offering_row])
            item.score -= item.components["sentence"]
            item.components["sentence"] = self.weights.sentence * best
            item.score += item.components["sentence"]
            pairs.add(item.offering, int(need_row), int(offering_row), best)
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


def _pair(scored: _Scored, offering_id: str) -> SentencePair | None:
    return scored.pairs.get(offering_id) if scored.pairs is not None else None


class _SentencesById(Mapping[str, tuple[list[str], np.ndarray]]):
    """``RankingEngine.offering_sentences``: a read-only view by offering id."""

    def __init__(self, catalogue: Catalogue, store: SentenceVectors) -> None:
        self._catalogue = catalogue
        self._store = store

    def _row(self, offering_id: str) -> int | None:
        row = self._catalogue.position.get(offering_id)
        if row is None or self._store.vectors(row) is None:
            return None
        return row

    def __getitem__(self, offering_id: str) -> tuple[list[str], np.ndarray]:
        row = self._row(offering_id)
        if row is None:
            raise KeyError(offering_id)
        vectors = self._store.vectors(row)
        assert vectors is not None
        return sentences(self._catalogue.offerings[row].description), vectors

    def __iter__(self) -> Iterator[str]:
        return (offering.id for offering in self._catalogue.offerings if self._row(offering.id) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _umbrella_fields(offering: OfferingProfile) -> tuple[object, ...]:
    """What ``members_of`` reads of an offering: a change elsewhere keeps the umbrellas."""
    return (offering.provider_id, offering.provider_kind, offering.parent, tuple(offering.sectors))
