"""The systems the quality report compares, each defined exactly (see issue 7).

Every system maps a need to a ranked list of offering ids. Baselines are written from
their definitions, independently of the engine's own scoring code, so that the
comparison means something; the shipped pipeline is the real ``RankingEngine``, built by
the same builder as the service's (``matcher.engine.builder``).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import bm25s
import numpy as np

from evaluation.dataset import LabelledSet
from matcher.embeddings.encoders import Encoder
from matcher.engine import builder, learning
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.history import History, PastNeed
from matcher.engine.query import NeedQuery
from matcher.engine.ranking import RankingEngine
from matcher.engine.reranker import LinearReranker
from matcher.engine.weights import RankingWeights
from matcher.taxonomy import Taxonomy

Ranker = Callable[[NeedProfile], list[str]]
DEPTH = 10
RRF_K = 60
STRUCTURED_WEIGHTS = (
    "concept",
    "sector_stated",
    "sector_inferred",
    "type_stated",
    "type_inferred",
    "language",
    "country_focus",
    "generality",
)


class VectorCache:
    """Embeddings of evaluation texts, kept in one ``.npz`` file per encoder under ``directory``
    so that re-running the report embeds only new text."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._vectors: dict[str, dict[str, np.ndarray]] = {}

    def _path(self, encoder: Encoder) -> Path | None:
        if self.directory is None:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder.name)
        return self.directory / f"{safe}-{encoder.dimension}.npz"

    def _table(self, encoder: Encoder) -> dict[str, np.ndarray]:
        if encoder.name not in self._vectors:
            table: dict[str, np.ndarray] = {}
            path = self._path(encoder)
            if path is not None and path.is_file():
                with np.load(path) as stored:
                    table = dict(zip(stored["hashes"].tolist(), stored["vectors"], strict=True))
            self._vectors[encoder.name] = table
        return self._vectors[encoder.name]

    def embed(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        table = self._table(encoder)
        hashes = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        missing = list(dict.fromkeys(h for h in hashes if h not in table))
        if missing:
            text_of = dict(zip(hashes, texts, strict=True))
            vectors = encoder.encode([text_of[h] for h in missing])
            table.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
            path = self._path(encoder)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                keys = sorted(table)
                np.savez(path, hashes=np.array(keys), vectors=np.vstack([table[h] for h in keys]))
        if not texts:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        return np.vstack([table[h] for h in hashes]).astype(np.float32)


def _order(ids: Sequence[str], scores: np.ndarray, depth: int = DEPTH) -> list[str]:
    """Ids by descending score, ties by id."""
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))
    return [ids[i] for i in order[:depth]]


# ---------------------------------------------------------------------------- baselines


def plain_tokens(text: str) -> list[str]:
    """Lowercased Unicode ``\\w+`` runs: the BM25 baseline's tokeniser (no stemming, no stop words)."""
    return re.findall(r"\w+", text.lower())


def offering_text(offering: OfferingProfile) -> str:
    return f"{offering.title} {offering.provider} {offering.description}"


def need_text(need: NeedProfile) -> str:
    return f"{need.title} {need.description}"


class PlainBM25:
    """bm25s with its defaults (k1 1.5, b 0.75) over title + provider + description."""

    def __init__(self, offerings: Sequence[OfferingProfile]) -> None:
        self.ids = [offering.id for offering in offerings]
        self.retriever = bm25s.BM25()
        self.retriever.index([plain_tokens(offering_text(o)) for o in offerings], show_progress=False)

    def scores(self, need: NeedProfile) -> np.ndarray:
        token_ids = self.retriever.get_tokens_ids(plain_tokens(need_text(need)))
        if not token_ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(token_ids), dtype=np.float32)


def quick_eligible(offering: OfferingProfile, party: PartyProfile) -> bool:
    """The quick hybrid's filter: region, status and country lists, and verified only."""
    if offering.regions and party.region not in offering.regions:
        return False
    if offering.eligible_status and party.status not in offering.eligible_status:
        return False
    if offering.countries and party.iso3 not in offering.countries:
        return False
    return offering.verified


class SubstringTagger:
    """The quick hybrid's tagger: every code one of whose keywords (any language, lowercased)
    occurs as a substring of the lowercased need title + description."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.keywords: dict[str, list[tuple[str, list[str]]]] = {}
        for family in ("sectors", "assistance_types"):
            entries = []
            for code in getattr(taxonomy, family).values():
                words = [
                    word.lower() for listing in code.keywords.values() for word in listing if word.strip()
                ]
                entries.append((code.code, words))
            self.keywords[family] = entries

    def codes(self, need: NeedProfile, family: str) -> list[str]:
        stated = need.sectors if family == "sectors" else need.assistance_types
        if stated:
            return list(stated)
        text = need_text(need).lower()
        return [code for code, words in self.keywords[family] if any(word in text for word in words)]


def _share(codes: Sequence[str], offered: Iterable[str]) -> float:
    if not codes:
        return 0.0
    offered_set = set(offered)
    return sum(1 for code in codes if code in offered_set) / len(codes)


@dataclass
class Baselines:
    """Everything the baselines share: the data, BM25 and the raw dense similarities."""

    data: LabelledSet
    bm25: PlainBM25
    dense: dict[str, np.ndarray]  # encoder label -> (needs × offerings) cosine matrix
    tagger: SubstringTagger
    seed: int = 13

    @property
    def offering_ids(self) -> list[str]:
        return [offering.id for offering in self.data.offerings]

    def need_row(self, need: NeedProfile) -> int:
        return next(row for row, item in enumerate(self.data.needs) if item.id == need.id)

    def random(self) -> Ranker:
        ids = self.offering_ids

        def rank(need: NeedProfile) -> list[str]:
            digest = hashlib.sha256(f"{self.seed}:{need.id}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
            return [ids[i] for i in rng.permutation(len(ids))[:DEPTH]]

        return rank

    def bm25_only(self) -> Ranker:
        return lambda need: _order(self.offering_ids, self.bm25.scores(need))

    def dense_only(self, label: str) -> Ranker:
        return lambda need: _order(self.offering_ids, self.dense[label][self.need_row(need)])

    def _tag_bonus(self, need: NeedProfile, offering: OfferingProfile) -> float:
        sectors = self.tagger.codes(need, "sectors")
        types = self.tagger.codes(need, "assistance_types")
        return 0.02 * _share(sectors, offering.sectors) + 0.01 * _share(types, offering.assistance_types)

    def text_blind(self) -> Ranker:
        def rank(need: NeedProfile) -> list[str]:
            party = self.data.parties[need.party]
            kept = [o for o in self.data.offerings if quick_eligible(o, party)]
            scores = np.array([self._tag_bonus(need, o) for o in kept])
            return _order([o.id for o in kept], scores)

        return rank

    def quick_hybrid(self) -> Ranker:
        """Reciprocal rank fusion (k = 60) of BM25 and every dense ranking, then the filter and bonus."""

        def rank(need: NeedProfile) -> list[str]:
            ids = self.offering_ids
            row = self.need_row(need)
            fused = np.zeros(len(ids))
            for scores in [self.bm25.scores(need), *(matrix[row] for matrix in self.dense.values())]:
                for position, offering_id in enumerate(_order(ids, scores, depth=len(ids))):
                    fused[ids.index(offering_id)] += 1.0 / (RRF_K + position + 1)
            party = self.data.parties[need.party]
            keep = [i for i, o in enumerate(self.data.offerings) if quick_eligible(o, party)]
            scores = np.array([fused[i] + self._tag_bonus(need, self.data.offerings[i]) for i in keep])
            return _order([ids[i] for i in keep], scores)

        return rank


def build_baselines(
    data: LabelledSet, encoders: Mapping[str, Encoder], cache: VectorCache, taxonomy: Taxonomy
) -> Baselines:
    """``encoders`` maps a report label (e.g. "MiniLM") to an encoder for the dense-only systems."""
    dense = {}
    for label, encoder in encoders.items():
        offering_vectors = cache.embed(encoder, [offering_text(o) for o in data.offerings])
        need_vectors = cache.embed(encoder, [need_text(n) for n in data.needs])
        dense[label] = need_vectors @ offering_vectors.T
    return Baselines(data=data, bm25=PlainBM25(data.offerings), dense=dense, tagger=SubstringTagger(taxonomy))


# ---------------------------------------------------------------------------- shipped pipeline


def build_engine(
    data: LabelledSet,
    encoders: Mapping[str, Encoder],
    cache: VectorCache,
    taxonomy: Taxonomy,
    weights: RankingWeights,
    reuse: RankingEngine | None = None,
) -> RankingEngine:
    """The shipped engine over the labelled set's offerings, assembled exactly as the service
    assembles it (``matcher.engine.builder``), with in-memory indexes and the evaluation's
    vector cache as the embedding function."""
    return builder.build_engine(
        offerings=data.offerings,
        encoders=encoders,
        embed=cache.embed,
        taxonomy=taxonomy,
        weights=weights,
        reuse=reuse,
    )


def shipped(
    engine: RankingEngine,
    data: LabelledSet,
    encoders: Mapping[str, Encoder],
    cache: VectorCache,
    today: dt.date,
) -> Ranker:
    def rank(need: NeedProfile) -> list[str]:
        query = engine.prepare(need)
        vectors = builder.embed_query(query, encoders, cache.embed)
        ranking = engine.rank(query, data.parties[need.party], need_vectors=vectors, k=DEPTH, today=today)
        return [item.offering.id for item in ranking.results]

    return rank


def without_structure(weights: RankingWeights) -> RankingWeights:
    """The shipped weights with every structured (code, language, focus) feature set to zero."""
    return weights.model_copy(
        update={name: 0.0 for name in STRUCTURED_WEIGHTS if name in type(weights).model_fields}
    )


def without_folding(engine: RankingEngine) -> RankingEngine:
    """The engine with no umbrella relation, so no umbrella is folded under its members (the
    measurement of folding; everything else is shared)."""
    unfolded = copy.copy(engine)
    unfolded.members = {}
    return unfolded


# ---------------------------------------------------------------------------- history


def embed_history(
    engine: RankingEngine, records: Sequence[PastNeed], encoders: Mapping[str, Encoder], cache: VectorCache
) -> History:
    """``records`` embedded as the service embeds the store's, each naming its sectors
    (stated, else the engine's tagger's reading) for the track record."""
    named = [
        record
        if record.sectors
        else replace(
            record, sectors=tuple(engine.tagger.tag(record.need.text, record.need.language).codes("sectors"))
        )
        for record in records
    ]
    return builder.build_history(named, encoders, cache.embed)


def with_history(
    engine: RankingEngine,
    history: History,
    groups: Mapping[str, str],
    data: LabelledSet,
    encoders: Mapping[str, Encoder],
    cache: VectorCache,
    today: dt.date,
    models: Callable[[str], tuple[History, LinearReranker | None]] | None = None,
) -> Ranker:
    """The shipped pipeline with ``history``, leaving out the records of the need's own case
    group (``groups``, else the need's id): leave-group-out for needs that are in the history,
    the whole history for others. ``models(group)``, when given, supplies the history and the
    learned re-ranker to use for a group instead."""
    engines: dict[str, RankingEngine] = {}

    def rank(need: NeedProfile) -> list[str]:
        group = groups.get(need.id, need.id)
        if group not in engines:
            if models is not None:
                visible, model = models(group)
                engines[group] = engine.with_history(visible, model)
            else:
                engines[group] = engine.with_history(history.subset(lambda record: record.group != group))
        return shipped(engines[group], data, encoders, cache, today)(need)

    return rank


@dataclass
class LearnedRanker:
    """The learned re-ranker, trained as ``matcher model train`` trains it but over the set's
    case groups: for a need of the history, the model of the fold that held its group out
    (with that fold's history); for any other need, a model trained on the whole history."""

    engine: RankingEngine
    history: History
    groups: Mapping[str, str]
    encoders: Mapping[str, Encoder]
    cache: VectorCache
    today: dt.date

    def __post_init__(self) -> None:
        record_groups = {record.need.id: record.group or record.need.id for record in self.history.records}
        self.folds = learning.fold_models(
            self.engine, self.history, self.need_vectors, record_groups, today=self.today
        )
        self.assigned = learning.folds(record_groups, self.history.records)
        self._full: LinearReranker | None = None
        self._full_trained = False

    def need_vectors(self, query: NeedQuery) -> dict[str, np.ndarray]:
        return builder.embed_query(query, self.encoders, self.cache.embed)

    def comparison(self) -> learning.Comparison:
        return learning.compare(self.folds)

    def full(self) -> LinearReranker | None:
        if not self._full_trained:
            record_groups = {
                record.need.id: record.group or record.need.id for record in self.history.records
            }
            cases = learning.build_cases(
                self.engine, self.history, self.need_vectors, record_groups, today=self.today
            )
            self._full, self._full_trained = learning.fit(cases), True
        return self._full

    def models(self, group: str) -> tuple[History, LinearReranker | None]:
        if group in self.assigned:
            fold = self.folds[self.assigned[group]]
            return fold.visible, fold.model
        return self.history, self.full()
