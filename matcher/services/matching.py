"""Building and maintaining the ranking engine over the store.

This is where the pure engine meets the database: offerings are read from the store,
embedded through the embedding cache (keyed by encoder name and text hash, so
unchanged text is never embedded twice), and held in FAISS indexes persisted under
``MATCHER_DATA_DIR/index/`` with a manifest. An index whose manifest does not match the
rows in the database (encoder, dimension, fingerprint) or whose files are damaged is
rebuilt from the database, never served. The engine itself is assembled by
``matcher.engine.builder.build_engine``, as for ``matcher eval`` and ``matcher bench``.

A need is prepared once (``MatchingService.prepare`` → ``NeedQuery``) and the query is
passed along: ranking, the donor view, coaching and the workbench read the same one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.embeddings.encoders import MULTILINGUAL, Encoder
from matcher.embeddings.encoders import build_encoders as build_encoders  # the app imports it from here
from matcher.embeddings.index import IndexLoadError, VectorIndex, fingerprint_rows, vector_id
from matcher.engine.builder import build_engine, embed_query
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.eligibility import failed_constraint
from matcher.engine.history import History
from matcher.engine.query import NeedQuery
from matcher.engine.ranking import Ranking, RankingEngine
from matcher.engine.reranker import LinearReranker
from matcher.engine.weights import RankingWeights
from matcher.store.models import CachedEmbedding, Need, Offering, Party, catalog_version
from matcher.taxonomy import OPEN_NEED_STATUSES, load_taxonomy

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
R = TypeVar("R")
EMBED_BATCH = 32
RANKING_CACHE_SIZE = 1024  # rankings kept until the next write (any write empties the cache)
QUERY_CACHE_SIZE = 1024  # prepared needs kept (a query depends only on the need's own fields)
NEED_DEPTH = 500  # open needs scored in full by the donor view; more are preselected by meaning


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_cached(
    session: Session, encoder: Encoder, texts: Sequence[str], progress: Progress | None = None
) -> np.ndarray:
    """Embeddings of ``texts``, reading and filling the cache in ``session`` (caller commits).

    Returns float32 rows aligned with ``texts``.
    """
    hashes = [text_hash(text) for text in texts]
    wanted = list(dict.fromkeys(hashes))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(CachedEmbedding.text_hash, CachedEmbedding.vector, CachedEmbedding.dimension).where(
                CachedEmbedding.encoder == encoder.name, CachedEmbedding.text_hash.in_(chunk)
            )
        )
        for digest, blob, dimension in rows:
            if dimension == encoder.dimension:
                found[digest] = np.frombuffer(blob, dtype=np.float32)
    missing = [digest for digest in wanted if digest not in found]
    if missing:
        text_of = dict(zip(hashes, texts, strict=True))
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            vectors = encoder.encode([text_of[digest] for digest in batch])
            for digest, vector in zip(batch, vectors, strict=True):
                found[digest] = np.asarray(vector, dtype=np.float32)
                session.merge(
                    CachedEmbedding(
                        encoder=encoder.name,
                        text_hash=digest,
                        dimension=encoder.dimension,
                        vector=found[digest].tobytes(),
                    )
                )
            if progress:
                progress(len(batch))
        session.flush()
    if not texts:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return np.vstack([found[digest] for digest in hashes]).astype(np.float32, copy=False)


def party_profile(party: Party) -> PartyProfile:
    return PartyProfile(
        iso3=party.iso3, region=party.un_region, status=party.status, ldc=party.ldc, sids=party.sids
    )


def need_profile(need: Need) -> NeedProfile:
    return NeedProfile(
        id=need.id,
        party=need.party_iso3,
        title=need.title,
        description=need.description,
        language=need.language,
        sectors=tuple(need.sectors),
        assistance_types=tuple(need.assistance_types),
        inferred_sectors=tuple(need.inferred_sectors),
        inferred_assistance_types=tuple(need.inferred_assistance_types),
        budget_usd=need.budget_usd,
    )


@dataclass(frozen=True)
class IndexedRow:
    """One row a persisted index holds: its string id and the text embedded for it."""

    id: str
    text: str


@dataclass
class RowIndexes:
    """One persisted vector index per encoder role over a set of rows (the active
    offerings, or the open needs), stored under ``directory/<kind>-<role>/``."""

    directory: Path
    encoders: dict[str, Encoder]
    kind: str = "offerings"
    indexes: dict[str, VectorIndex] = field(default_factory=dict)
    rebuilt: list[str] = field(default_factory=list)

    def role_directory(self, role: str) -> Path:
        return self.directory / f"{self.kind}-{role}"

    def fingerprint(self, role: str, rows: Sequence[IndexedRow]) -> str:
        name = self.encoders[role].name
        return fingerprint_rows((vector_id(row.id), text_hash(f"{name}\n{row.text}")) for row in rows)

    def load_or_build(
        self, session: Session, rows: Sequence[IndexedRow], progress: Progress | None = None
    ) -> None:
        """Load each role's index if it matches ``rows``; otherwise rebuild and save it."""
        for role, encoder in self.encoders.items():
            expected = self.fingerprint(role, rows)
            try:
                self.indexes[role] = VectorIndex.load(
                    self.role_directory(role),
                    expected_encoder=encoder.name,
                    expected_dimension=encoder.dimension,
                    expected_fingerprint=expected,
                )
                if progress:
                    progress(len(rows))
                continue
            except IndexLoadError as problem:
                logger.info("rebuilding the %s %s index: %s", role, self.kind, problem)
            vectors = embed_cached(session, encoder, [row.text for row in rows], progress)
            index = VectorIndex(encoder.dimension, encoder_name=encoder.name)
            index.add(np.array([vector_id(row.id) for row in rows], dtype=np.int64), vectors)
            index.save(self.role_directory(role), fingerprint=expected)
            self.indexes[role] = index
            self.rebuilt.append(role)

    def apply(
        self, session: Session, row_id: str, row: IndexedRow | None, rows: Sequence[IndexedRow]
    ) -> None:
        """Bring every index up to date after one row was added or changed (``row``) or
        left the set (``row`` None); ``rows`` is the whole set afterwards."""
        for role, encoder in self.encoders.items():
            index = self.indexes[role]
            if row is not None:
                index.add([vector_id(row.id)], embed_cached(session, encoder, [row.text]))
            else:
                index.remove([vector_id(row_id)])
            index.save(self.role_directory(role), fingerprint=self.fingerprint(role, rows))


def open_need_rows(session: Session) -> list[IndexedRow]:
    needs = session.scalars(select(Need).where(Need.status.in_(OPEN_NEED_STATUSES)).order_by(Need.id))
    return [IndexedRow(need.id, need_profile(need).text) for need in needs]


@dataclass
class RankedNeed:
    """One need in the donor view."""

    need_id: str
    score: float
    components: dict[str, float]
    explanation: dict[str, Any]

    def as_result(self) -> dict[str, Any]:
        return {"need_id": self.need_id, "score": round(self.score, 6), "explanation": self.explanation}


def offering_rows(offerings: Sequence[OfferingProfile]) -> list[IndexedRow]:
    return [IndexedRow(offering.id, offering.text) for offering in offerings if offering.active]


def _locked(method: Callable[..., R]) -> Callable[..., R]:
    """Run the method under the service's lock: FAISS indexes are changed in place, and a
    search must never run while an add or remove is half done."""

    @functools.wraps(method)
    def wrapper(self: MatchingService, *args: Any, **kwargs: Any) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class EngineNotLoadedError(RuntimeError):
    """The service was asked to rank before ``MatchingService.load`` built its engine."""

    def __init__(self) -> None:
        super().__init__("the matching service has no engine yet: call load() first")


class MatchingService:
    """The engine over the store's current offerings and open needs, kept fresh by
    ``offering_changed`` and ``need_changed``. Safe to share between threads."""

    def __init__(
        self,
        *,
        encoders: Mapping[str, Encoder],
        index_dir: Path,
        weights: RankingWeights | None = None,
        proposals_per_need: int = 10,
        fit_threshold: float | None = None,
    ) -> None:
        # One OpenMP thread: on 2 cores faiss single-query search ran 2-25x slower with two
        # threads than with one (measured; see matcher/embeddings/index.py).
        faiss.omp_set_num_threads(1)
        self.lock = threading.RLock()
        self.encoders = dict(encoders)
        self.weights = weights or RankingWeights()
        self.proposals_per_need = proposals_per_need  # what automatic matching keeps per need
        # A new proposal scoring this much tells its provider a need fits (None: never).
        self.fit_threshold = fit_threshold
        self.taxonomy = load_taxonomy()
        self.indexes = RowIndexes(directory=index_dir, encoders=self.encoders, kind="offerings")
        self.offerings: list[OfferingProfile] = []
        self._engine: RankingEngine | None = None
        # Past needs with their vectors, and the promoted re-ranker (``history_changed``).
        self.history = History()
        self.reranker: LinearReranker | None = None
        # The catalogue version (``matcher.store.models.CatalogState``) these copies reflect.
        self.catalog_version = -1
        # Counted when the offerings change, so reading it (the metrics gauge) costs nothing.
        self.active_offerings = 0
        # Rankings by (need, party, k, day), dropped whenever anything changes (``_changed``).
        self._rankings: OrderedDict[tuple[Any, ...], Ranking] = OrderedDict()
        # Prepared needs by their profile: a query depends on nothing else but the taxonomy,
        # tagger and glossary, which only ``load`` replaces (it empties this cache).
        self._queries: OrderedDict[NeedProfile, NeedQuery] = OrderedDict()
        need_encoders = {MULTILINGUAL: self.encoders[MULTILINGUAL]} if MULTILINGUAL in self.encoders else {}
        self.need_indexes = RowIndexes(directory=index_dir, encoders=need_encoders, kind="needs")

    @property
    def engine(self) -> RankingEngine:
        """The current engine; raises ``EngineNotLoadedError`` before ``load``."""
        if self._engine is None:
            raise EngineNotLoadedError()
        return self._engine

    @_locked
    def load(self, session: Session, progress: Progress | None = None) -> None:
        """Read the offerings and open needs, and load (or rebuild) their indexes."""
        # Read first: a write landing meanwhile makes this copy look stale, never falsely fresh.
        self.catalog_version = catalog_version(session)
        self.offerings = [
            OfferingProfile.from_record(row)
            for row in session.scalars(select(Offering).order_by(Offering.id))
        ]
        self.indexes.load_or_build(session, offering_rows(self.offerings), progress)
        self.need_indexes.load_or_build(session, open_need_rows(session))
        self._queries.clear()
        self._read_history(session)
        self._rebuild_engine(session)

    def warm_up(self) -> None:
        """Load every encoder's model now (first use would otherwise stall a request)."""
        for encoder in self.encoders.values():
            encoder.encode(["warm-up"])

    def _changed(self) -> None:
        self._rankings.clear()

    def _rebuild_engine(self, session: Session) -> None:
        """A new engine over ``self.offerings`` and the persisted indexes; the previous one
        lends what did not change (artefacts, sentence vectors, glossary)."""
        self._changed()
        self.active_offerings = sum(1 for offering in self.offerings if offering.active)
        self._engine = build_engine(
            offerings=self.offerings,
            encoders=self.encoders,
            embed=lambda encoder, texts: embed_cached(session, encoder, texts),
            taxonomy=self.taxonomy,
            weights=self.weights,
            indexes=self.indexes.indexes,
            reuse=self._engine,
            history=self.history,
            reranker=self.reranker,
        )

    def _read_history(self, session: Session) -> None:
        from matcher.services.history import load_history
        from matcher.services.reranking import active_reranker

        self.history = load_history(session, self)
        self.reranker = active_reranker(session)

    @_locked
    def history_changed(self, session: Session) -> None:
        """Reflect a decision, a history import or a model change (call after the write):
        the history and the active re-ranker are read again and swapped into the engine."""
        self._read_history(session)
        if self._engine is not None:
            self._engine = self._engine.with_history(self.history, self.reranker)
        self._changed()
        self.catalog_version = catalog_version(session)

    @_locked
    def offering_changed(self, session: Session, offering_id: str) -> None:
        """Reflect one created, changed or deactivated offering (call after the write)."""
        row = session.get(Offering, offering_id)
        if row is None:
            raise KeyError(offering_id)
        changed = OfferingProfile.from_record(row)
        self.offerings = [o for o in self.offerings if o.id != offering_id] + [changed]
        self.offerings.sort(key=lambda offering: offering.id)
        self.indexes.apply(
            session,
            offering_id,
            offering_rows([changed])[0] if changed.active else None,
            offering_rows(self.offerings),
        )
        self._rebuild_engine(session)
        self.catalog_version = catalog_version(session)

    @_locked
    def need_changed(self, session: Session, need_id: str) -> None:
        """Reflect one created, changed, withdrawn or closed need (call after the write)."""
        row = session.get(Need, need_id)
        if row is None:
            raise KeyError(need_id)
        self._changed()
        is_open = row.status in OPEN_NEED_STATUSES
        self.need_indexes.apply(
            session,
            need_id,
            IndexedRow(row.id, need_profile(row).text) if is_open else None,
            open_need_rows(session),
        )
        self.catalog_version = catalog_version(session)

    @_locked
    def prepare(self, need: NeedProfile) -> NeedQuery:
        """``need`` prepared once for ranking, the donor view, coaching and the pages
        (``RankingEngine.prepare``); a need prepared before is not tagged again."""
        query = self._queries.get(need)
        if query is not None:
            self._queries.move_to_end(need)
            return query
        query = self.engine.prepare(need)
        self._queries[need] = query
        if len(self._queries) > QUERY_CACHE_SIZE:
            self._queries.popitem(last=False)
        return query

    def need_vectors(self, session: Session, query: NeedQuery) -> dict[str, np.ndarray]:
        """The vectors of ``query``'s texts, through the embedding cache (caller commits)."""
        return embed_query(query, self.encoders, lambda encoder, texts: embed_cached(session, encoder, texts))

    @_locked
    def rank_needs_for_offering(
        self,
        session: Session,
        offering_id: str,
        *,
        k: int = 10,
        include_confidential: bool = True,
        today: dt.date | None = None,
    ) -> list[RankedNeed]:
        """The donor view: the open needs ``offering_id`` could serve, best first.

        Each need is scored exactly as the offering scores in that need's own ranking
        (``RankingEngine.score_pair``), so both views agree; the offering's eligibility
        rules (region, country, status, window) apply to each need's Party. With more than
        ``NEED_DEPTH`` open needs, the need index preselects the closest ones by meaning.
        """
        engine = self.engine
        offering = next((o for o in self.offerings if o.id == offering_id), None)
        if offering is None:
            raise KeyError(offering_id)
        if not offering.active:
            return []
        query = select(Need).where(Need.status.in_(OPEN_NEED_STATUSES))
        if not include_confidential:
            query = query.where(Need.confidential.is_(False))
        needs = list(session.scalars(query.order_by(Need.id)))
        if len(needs) > NEED_DEPTH and MULTILINGUAL in self.need_indexes.indexes:
            index = self.need_indexes.indexes[MULTILINGUAL]
            vector = embed_cached(session, self.encoders[MULTILINGUAL], [offering.text])
            allowed = np.array([vector_id(need.id) for need in needs], dtype=np.int64)
            _, found = index.search(vector, NEED_DEPTH, allowed_ids=allowed)
            keep = set(found[0][found[0] >= 0].tolist())
            needs = [need for need in needs if vector_id(need.id) in keep]
        today = today or dt.date.today()
        results = []
        for need in needs:
            party = session.get(Party, need.party_iso3)
            if party is None or failed_constraint(offering, party_profile(party), today) is not None:
                continue
            prepared = self.prepare(need_profile(need))
            pair = engine.score_pair(
                prepared,
                party_profile(party),
                offering_id,
                need_vectors=self.need_vectors(session, prepared),
                today=today,
            )
            if pair is not None:
                results.append(RankedNeed(need.id, pair.score, pair.components, pair.explanation))
        results.sort(key=lambda item: (-item.score, item.need_id))
        return results[:k]

    @_locked
    def rank_need(
        self,
        session: Session,
        need: NeedQuery | NeedProfile,
        party: PartyProfile,
        *,
        k: int = 10,
        today: dt.date | None = None,
    ) -> Ranking:
        """The need's top ``k`` offerings for ``party``, explained. Give the ``NeedQuery``
        from ``prepare`` when the caller also coaches or shows the need (the ranking carries
        it as ``Ranking.query``); a ``NeedProfile`` is prepared here. Rankings are cached
        until the next change of the offerings or needs."""
        engine = self.engine
        profile = need.need if isinstance(need, NeedQuery) else need
        today = today or dt.date.today()
        key = (profile, party, k, today)
        cached = self._rankings.get(key)
        if cached is not None:
            self._rankings.move_to_end(key)
            return cached
        query = need if isinstance(need, NeedQuery) else self.prepare(need)
        ranking = engine.rank(query, party, need_vectors=self.need_vectors(session, query), k=k, today=today)
        self._rankings[key] = ranking
        if len(self._rankings) > RANKING_CACHE_SIZE:
            self._rankings.popitem(last=False)
        return ranking
