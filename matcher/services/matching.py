"""Building and maintaining the ranking engine over the store, in every worker.

This is where the pure engine meets the database: offerings are read from the store,
embedded through the embedding cache (keyed by encoder name and text hash, so unchanged
text is never embedded twice), and held in FAISS indexes persisted under
``MATCHER_DATA_DIR/index/`` with a manifest; the engine's per-offering artefacts (term
counts, code profiles, sentence vectors) are persisted beside them
(``matcher.engine.artefacts``). An index or artefact file that does not match the database
is repaired row by row or rebuilt, never served.

**The database is the source of truth.** Every offering, need or decision write bumps the
catalogue version and logs the changed rows in its own transaction
(``matcher.store.models``). ``MatchingService.sync`` brings this process up to that version
by applying exactly the logged rows (a decision, a closed need or a ranking model's change
reads the history and the active re-ranker again; a gap in the log, or very many changes,
reloads everything); the writer calls it after its commit, ``ensure_fresh`` polls the version
before a read (at most once per ``freshness_seconds``), and ``CatalogFollower``
(``matcher.services.freshness``) calls it when PostgreSQL notifies a change or its poll sees
one. So every worker answers from the database's state, whichever worker wrote.

**Readers never wait for writers.** The engine, the open needs and the version are one
immutable ``Serving`` snapshot; a reader takes a reference and computes on it without a lock;
``sync`` builds the next snapshot from the changed rows (sharing everything else) and swaps
it in. Rankings are cached per snapshot: a change drops only the rankings it can affect.

A need is prepared once (``MatchingService.prepare`` → ``NeedQuery``) and the query is
passed along: ranking, the donor view, coaching and the workbench read the same one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload
from threadpoolctl import threadpool_limits

from matcher.embeddings.encoders import MULTILINGUAL, Encoder
from matcher.embeddings.encoders import build_encoders as build_encoders  # the app imports it from here
from matcher.embeddings.index import IndexLoadError, VectorIndex, fingerprint_rows, vector_id
from matcher.engine.artefacts import (
    ArtefactsUnusable,
    SavedEngine,
    artefact_version,
    load_engine,
    save_engine,
)
from matcher.engine.builder import build_engine, embed_query
from matcher.engine.catalogue import artefact_key
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.donor import DonorMatch, DonorPage, OpenNeed, OpenNeeds, open_need
from matcher.engine.history import History
from matcher.engine.query import SENTENCES, NeedQuery
from matcher.engine.ranking import Ranking, RankingEngine
from matcher.engine.reranker import LinearReranker
from matcher.engine.text.lexical import sentences
from matcher.engine.weights import RankingWeights
from matcher.store.models import (
    CachedEmbedding,
    CatalogChange,
    Need,
    Offering,
    Party,
    catalog_version,
    has_uncommitted_catalog_change,
    has_uncommitted_writes,
)
from matcher.taxonomy import OPEN_NEED_STATUSES, load_taxonomy

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
EMBED_BATCH = 32
RANKING_CACHE_SIZE = 1024  # rankings kept (per snapshot; a change drops only those it affects)
QUERY_CACHE_SIZE = 1024  # prepared needs kept (a query depends only on the need's own fields)
# More logged changes than this are applied as a reload: applying rows one by one costs
# about a need ranking each, a reload about a second per 1,000 offerings.
RELOAD_AFTER_CHANGES = 5_000
RankedNeed = DonorMatch  # the donor view's result (the name earlier callers used)


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
            fresh: list[dict[str, Any]] = []
            for digest, vector in zip(batch, vectors, strict=True):
                found[digest] = np.asarray(vector, dtype=np.float32)
                fresh.append(
                    {
                        "encoder": encoder.name,
                        "text_hash": digest,
                        "dimension": encoder.dimension,
                        "vector": found[digest].tobytes(),
                    }
                )
            _store_embeddings(session, fresh)
            if progress:
                progress(len(batch))
    if not texts:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return np.vstack([found[digest] for digest in hashes]).astype(np.float32, copy=False)


def _store_embeddings(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace cache rows in one statement. Another worker embedding the same text
    at the same moment (the same vector) makes this an update, not a failed transaction."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(CachedEmbedding)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[CachedEmbedding.encoder, CachedEmbedding.text_hash],
                set_={"dimension": statement.excluded.dimension, "vector": statement.excluded.vector},
            ),
            rows,
        )
    else:
        for row in rows:
            session.merge(CachedEmbedding(**row))
        session.flush()


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
    """One persisted vector index per encoder role over the active offerings, stored under
    ``directory/<kind>-<role>/``. Changed in memory row by row (``apply``) and saved by a
    checkpoint (``save``), not at every write."""

    directory: Path
    encoders: dict[str, Encoder]
    kind: str = "offerings"
    indexes: dict[str, VectorIndex] = field(default_factory=dict)
    rebuilt: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    def role_directory(self, role: str) -> Path:
        return self.directory / f"{self.kind}-{role}"

    def fingerprint(self, role: str, rows: Sequence[IndexedRow]) -> str:
        name = self.encoders[role].name
        return fingerprint_rows((vector_id(row.id), text_hash(f"{name}\n{row.text}")) for row in rows)

    def load_or_build(
        self,
        session: Session,
        rows: Sequence[IndexedRow],
        progress: Progress | None = None,
        repair: IndexRepair | None = None,
    ) -> None:
        """Load each role's index if it matches ``rows``; repair it row by row when ``repair``
        says what it held; otherwise rebuild it. Saves what it rebuilt or repaired."""
        for role, encoder in self.encoders.items():
            expected = self.fingerprint(role, rows)
            try:
                index = VectorIndex.load(
                    self.role_directory(role),
                    expected_encoder=encoder.name,
                    expected_dimension=encoder.dimension,
                )
            except IndexLoadError as problem:
                logger.info("rebuilding the %s %s index: %s", role, self.kind, problem)
                index = None
            if index is not None and index.fingerprint == expected:
                self.indexes[role] = index
                if progress:
                    progress(len(rows))
                continue
            if (
                index is not None
                and repair is not None
                and index.fingerprint == repair.fingerprints.get(role)
            ):
                changed, gone = repair.difference(rows)
                logger.info(
                    "repairing the %s %s index: %d rows changed, %d left",
                    role,
                    self.kind,
                    len(changed),
                    len(gone),
                )
                self._change(session, index, encoder, changed, gone)
                index.save(self.role_directory(role), fingerprint=expected)
                self.indexes[role] = index
                self.repaired.append(role)
                continue
            vectors = embed_cached(session, encoder, [row.text for row in rows], progress)
            index = VectorIndex(encoder.dimension, encoder_name=encoder.name)
            index.add(np.array([vector_id(row.id) for row in rows], dtype=np.int64), vectors)
            index.save(self.role_directory(role), fingerprint=expected)
            self.indexes[role] = index
            self.rebuilt.append(role)

    def apply(self, session: Session, changed: Sequence[IndexedRow], gone: Sequence[str]) -> None:
        """Bring every index up to date in memory: ``changed`` rows added or re-embedded,
        ``gone`` ids removed (left the active set)."""
        for role, encoder in self.encoders.items():
            self._change(session, self.indexes[role], encoder, changed, gone)

    @staticmethod
    def _change(
        session: Session,
        index: VectorIndex,
        encoder: Encoder,
        changed: Sequence[IndexedRow],
        gone: Sequence[str],
    ) -> None:
        if changed:
            vectors = embed_cached(session, encoder, [row.text for row in changed])
            index.add(np.array([vector_id(row.id) for row in changed], dtype=np.int64), vectors)
        if gone:
            index.remove([vector_id(row_id) for row_id in gone])

    def save(self, rows: Sequence[IndexedRow]) -> dict[str, str]:
        """Save every index with the fingerprint of ``rows`` (what it holds); returns them."""
        fingerprints = {}
        for role in self.encoders:
            fingerprints[role] = self.fingerprint(role, rows)
            self.indexes[role].save(self.role_directory(role), fingerprint=fingerprints[role])
        return fingerprints


@dataclass
class IndexRepair:
    """What the indexes held at the last checkpoint (``SavedEngine``): active offering id →
    artefact key, and each index's fingerprint then. An index still at that fingerprint is
    brought to the database by re-embedding only the offerings whose key changed."""

    fingerprints: Mapping[str, str]
    held: Mapping[str, str]
    keys: Mapping[str, str]  # the database's offering id → artefact key, now

    def difference(self, rows: Sequence[IndexedRow]) -> tuple[list[IndexedRow], list[str]]:
        wanted = {row.id for row in rows}
        changed = [row for row in rows if self.held.get(row.id) != self.keys.get(row.id)]
        gone = [row_id for row_id in self.held if row_id not in wanted]
        return changed, gone


def offering_rows(offerings: Sequence[OfferingProfile]) -> list[IndexedRow]:
    return [IndexedRow(offering.id, offering.text) for offering in offerings if offering.active]


class EngineNotLoadedError(RuntimeError):
    """The service was asked to rank before ``MatchingService.load`` built its engine."""

    def __init__(self) -> None:
        super().__init__("the matching service has no engine yet: call load() first")


@dataclass(frozen=True)
class Serving:
    """What one process serves, immutable: the engine over every offering, the open needs
    prepared for the donor view, and the catalogue version both reflect."""

    version: int
    engine: RankingEngine
    needs: OpenNeeds
    active_offerings: int


RankingKey = tuple[NeedProfile, PartyProfile, int, dt.date]


class _RankingCache:
    """Rankings by (need, party, k, day), each valid for the snapshot it was computed on and
    kept across snapshots until a change that can affect it drops it (``drop``)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[RankingKey, Ranking] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: RankingKey) -> Ranking | None:
        with self.lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: RankingKey, ranking: Ranking) -> None:
        """Call with ``lock`` held (the caller checks its snapshot is still the current one)."""
        self._entries[key] = ranking
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, affected: Callable[[RankingKey, Ranking], bool]) -> int:
        """Drop the entries ``affected`` says a change reaches (call with ``lock`` held)."""
        doomed = [key for key, ranking in self._entries.items() if affected(key, ranking)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class Changes:
    """The rows logged since a version, by kind (``CatalogChange.entity_type``)."""

    offerings: set[str] = field(default_factory=set)
    needs: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)  # need ids with a proposal decided or undone
    models: bool = False  # a ranking model was trained, promoted or rolled back
    reload: bool = False  # an unknown kind was logged, the log has a gap, or too much changed
    version: int = 0


class MatchingService:
    """The engine over the store's offerings and open needs, kept at the database's catalogue
    version by ``sync``. Safe to share between threads: reads run on an immutable snapshot
    without a lock; one writer at a time (``lock``) builds and swaps the next snapshot."""

    def __init__(
        self,
        *,
        encoders: Mapping[str, Encoder],
        index_dir: Path,
        weights: RankingWeights | None = None,
        proposals_per_need: int = 10,
        fit_threshold: float | None = None,
        freshness_seconds: float = 0.1,
        checkpoint_seconds: float = 600.0,
    ) -> None:
        # One OpenMP thread: on 2 cores faiss single-query search ran 2-25x slower with two
        # threads than with one (measured; see matcher/embeddings/index.py). The same holds for
        # numpy's BLAS: the donor view over 1,000 open needs took 21 ms of CPU with OpenBLAS's
        # two threads and 3.9 ms with one (measured on this 2-core machine, under load).
        faiss.omp_set_num_threads(1)
        threadpool_limits(limits=1, user_api="blas")
        self.lock = threading.RLock()  # held by the one writer: load, sync, checkpoint
        self.encoders = dict(encoders)
        self.weights = weights or RankingWeights()
        self.proposals_per_need = proposals_per_need  # what automatic matching keeps per need
        # A new proposal scoring this much tells its provider a need fits (None: never).
        self.fit_threshold = fit_threshold
        # A read polls the database's version at most this often (``ensure_fresh``).
        self.freshness_seconds = freshness_seconds
        # Indexes and artefacts are saved at most this often after changes (``checkpoint``).
        self.checkpoint_seconds = checkpoint_seconds
        self.taxonomy = load_taxonomy()
        self.index_dir = index_dir
        self.indexes = RowIndexes(directory=index_dir, encoders=self.encoders, kind="offerings")
        self.artefacts_loaded = False  # whether the last load started from saved artefacts
        self._state: Serving | None = None
        self._history_version = -1  # the snapshot version the history was last read at
        self._rankings = _RankingCache(RANKING_CACHE_SIZE)
        # Prepared needs by their profile: a query depends on nothing else but the taxonomy,
        # tagger and glossary, which only ``load`` replaces (it empties this cache).
        self._queries: OrderedDict[NeedProfile, NeedQuery] = OrderedDict()
        self._queries_lock = threading.Lock()
        self._checked_at = -float("inf")
        self._dirty = False  # indexes or artefacts changed since the last checkpoint
        self._checkpointed_at = time.monotonic()

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> Serving:
        """The current snapshot; raises ``EngineNotLoadedError`` before ``load``."""
        state = self._state
        if state is None:
            raise EngineNotLoadedError()
        return state

    @property
    def engine(self) -> RankingEngine:
        """The current engine; raises ``EngineNotLoadedError`` before ``load``."""
        return self.state.engine

    @property
    def offerings(self) -> list[OfferingProfile]:
        return self.state.engine.offerings if self._state is not None else []

    @property
    def catalog_version(self) -> int:
        """The catalogue version this process serves (-1 before ``load``)."""
        return self._state.version if self._state is not None else -1

    @property
    def active_offerings(self) -> int:
        """Counted when the offerings change, so reading it (the metrics gauge) costs nothing."""
        return self._state.active_offerings if self._state is not None else 0

    @property
    def open_needs(self) -> int:
        return len(self._state.needs) if self._state is not None else 0

    def _swap(self, state: Serving, affected: Callable[[RankingKey, Ranking], bool] | None) -> None:
        """Make ``state`` current and drop the cached rankings a change reaches (all of them
        when ``affected`` is None), in one step under the cache's lock: a ranking computed
        on an earlier snapshot is never cached after this (``rank_need`` checks)."""
        with self._rankings.lock:
            self._state = state
            if affected is None:
                self._rankings.clear()
            else:
                self._rankings.drop(affected)

    # ------------------------------------------------------------------ loading

    def load(self, session: Session, progress: Progress | None = None) -> None:
        """Read every offering and open need and build the engine: the indexes and the
        engine's artefacts saved by an earlier process are reused for every offering whose
        text and codes did not change (see ``matcher.engine.artefacts``)."""
        with self.lock:
            self._load(session, progress)

    def _load(self, session: Session, progress: Progress | None = None) -> None:
        # Read the version first: a write landing meanwhile makes this copy look stale (and
        # the next sync applies it), never falsely fresh.
        version = catalog_version(session)
        # Plain rows, not ORM objects: at 100,000 offerings this read is a large part of a start.
        by_id = {
            row.id: OfferingProfile.from_record(row)
            for row in session.execute(select(*Offering.__table__.columns))
        }
        saved = self._saved_engine()
        # Saved rows first, in their order (their sentence matrix is then used in place), new
        # offerings after, by id.
        order = [offering_id for offering_id in (saved.ids if saved else []) if offering_id in by_id]
        placed = set(order)
        order += sorted(offering_id for offering_id in by_id if offering_id not in placed)
        offerings = [by_id[offering_id] for offering_id in order]
        repair = None
        if saved is not None:
            repair = IndexRepair(
                fingerprints=saved.index_fingerprints,
                held=saved.indexed(),
                keys={offering.id: artefact_key(offering) for offering in offerings},
            )
        self.indexes.rebuilt, self.indexes.repaired = [], []
        self.indexes.load_or_build(session, _by_id(offering_rows(offerings)), progress, repair)
        with self._queries_lock:
            self._queries.clear()
        history, reranker = self._read_history(session)
        engine = build_engine(
            offerings=offerings,
            encoders=self.encoders,
            embed=lambda encoder, texts: embed_cached(session, encoder, texts),
            taxonomy=self.taxonomy,
            weights=self.weights,
            indexes=self.indexes.indexes,
            saved=saved,
            history=history,
            reranker=reranker,
        )
        self.artefacts_loaded = saved is not None
        self._history_version = version
        needs = self._open_needs(session, engine, session.scalars(_open_needs_query()).all())
        state = Serving(version, engine, OpenNeeds(needs), int(engine.catalogue.active.sum()))
        self._swap(state, None)
        if saved is None or self.indexes.rebuilt or self.indexes.repaired or len(saved.ids) != len(offerings):
            self._dirty = True
            self.checkpoint(force=True)

    def _saved_engine(self) -> SavedEngine | None:
        try:
            with self._directory_lock(shared=True):
                return load_engine(self.index_dir / "engine", artefact_version(self.taxonomy))
        except ArtefactsUnusable as problem:
            logger.info("building the engine's artefacts: %s", problem)
            return None

    def warm_up(self) -> None:
        """Load every encoder's model now (first use would otherwise stall a request)."""
        for encoder in self.encoders.values():
            encoder.encode(["warm-up"])

    # ------------------------------------------------------------------ freshness

    def ensure_fresh(self, session: Session, *, wait: bool = True) -> None:
        """Before a read: if ``freshness_seconds`` passed since the last look, compare this
        process's catalogue version with the database's (one indexed row) and ``sync`` when
        they differ. A session holding its own uncommitted catalogue write is left alone (its
        writer syncs after the commit). ``wait`` off: when another thread is applying changes
        right now, return at once instead of waiting for it."""
        if self._state is None or has_uncommitted_catalog_change(session):
            return
        now = time.monotonic()
        if now - self._checked_at < self.freshness_seconds:
            return
        self._checked_at = now
        if catalog_version(session) != self._state.version:
            self.sync(session, wait=wait)

    def sync(self, session: Session, *, wait: bool = True) -> int:
        """Apply every catalogue change logged after the version this process serves, and
        return how many logged rows were read. Offerings and needs are applied row by row;
        a decision, a closed need or a model change reads the history and the active re-ranker
        again (``history_changed``); an unknown kind, a gap in the log or more than
        ``RELOAD_AFTER_CHANGES`` rows reload everything. Changes of ``session``'s own uncommitted transaction are applied but the
        version stays below them, so they are applied again (idempotently) once committed.
        ``wait`` off: return 0 at once when another thread holds the writer's lock.

        A ``session`` that has written in its open transaction never waits for that lock
        (it returns 0 when the lock is taken, as with ``wait`` off): it may hold the
        database's write lock, which the lock's holder may be waiting for to cache an
        embedding, and neither would move until SQLite's busy timeout failed one of them.
        Its caller goes on with the current snapshot (the lock's holder is applying the
        changes meanwhile), as a read does between two freshness checks."""
        if not self.lock.acquire(blocking=wait and not has_uncommitted_writes(session)):
            return 0
        try:
            return self._sync(session)
        finally:
            self.lock.release()

    def _sync(self, session: Session) -> int:
        state = self.state
        changes = self._changes_since(session, state.version)
        if changes.version <= state.version:
            return 0
        own = has_uncommitted_catalog_change(session)
        if changes.reload:
            logger.info("catalogue: reloading at version %d", changes.version)
            self._load(session)
            if own:
                self._state = self._at_version(self.state, changes.version - 1)
            return len(changes.offerings) + len(changes.needs)
        self._apply(session, state, changes, version=changes.version - 1 if own else changes.version)
        self._checked_at = time.monotonic()
        return len(changes.offerings) + len(changes.needs) + len(changes.decisions) + int(changes.models)

    @staticmethod
    def _at_version(state: Serving, version: int) -> Serving:
        return Serving(version, state.engine, state.needs, state.active_offerings)

    def _changes_since(self, session: Session, version: int) -> Changes:
        changes = Changes(version=version)
        count = (
            session.scalar(
                select(func.count()).select_from(CatalogChange).where(CatalogChange.version > version)
            )
            or 0
        )
        if count > RELOAD_AFTER_CHANGES:
            changes.reload = True
            changes.version = catalog_version(session)
            return changes
        rows = session.execute(
            select(CatalogChange.version, CatalogChange.entity_type, CatalogChange.entity_id)
            .where(CatalogChange.version > version)
            .order_by(CatalogChange.version)
        ).all()
        if rows and rows[0].version > version + 1:
            changes.reload = True  # the log lost versions (pruned, or restored from elsewhere)
        for row in rows:
            changes.version = max(changes.version, int(row.version))
            if row.entity_type == "offering":
                changes.offerings.add(row.entity_id)
            elif row.entity_type == "need":
                changes.needs.add(row.entity_id)
            elif row.entity_type == "decision":
                changes.decisions.add(row.entity_id)
            elif row.entity_type == "model":
                changes.models = True
            else:  # a kind this process does not know: rebuild from the database
                changes.reload = True
        current = catalog_version(session)
        if current > changes.version:
            changes.reload = True  # versions without logged rows: nothing to apply them from
            changes.version = current
        return changes

    def _history_moved(self, engine: RankingEngine, changes: Changes, need_rows: Mapping[str, Need]) -> bool:
        """Whether ``changes`` reach the history (``matcher.services.history.past_needs``: the
        needs with a decided proposal and the closed needs) or the active re-ranker."""
        if changes.decisions or changes.models:
            return True
        known = engine.history.by_need
        return any(need_id in known or row.status == "closed" for need_id, row in need_rows.items())

    def _read_history(self, session: Session) -> tuple[History, LinearReranker | None]:
        """The store's history (past needs, embedded) and the active re-ranker, if any."""
        from matcher.services.history import load_history
        from matcher.services.reranking import active_reranker

        return load_history(session, self), active_reranker(session)

    def history_changed(self, session: Session) -> None:
        """Reflect a committed decision, history import or model change: ``sync`` (the write
        logged it, so the history and the active re-ranker are read again and swapped into
        the engine); read them again anyway when nothing was logged since."""
        with self.lock:
            self._sync(session)
            if self._history_version != self.state.version:
                state = self.state
                engine = state.engine.with_history(*self._read_history(session))
                self._history_version = state.version
                self._swap(Serving(state.version, engine, state.needs, state.active_offerings), None)

    @property
    def history(self) -> History:
        """The past needs the current engine reads (``matcher.engine.history``)."""
        return self.state.engine.history.history

    @property
    def reranker(self) -> LinearReranker | None:
        """The promoted re-ranker the current engine orders with, or None (hand-set)."""
        return self.state.engine.reranker

    def _apply(self, session: Session, state: Serving, changes: Changes, *, version: int) -> None:
        engine, needs = state.engine, state.needs
        offerings: list[OfferingProfile] = []
        if changes.offerings:
            rows = _rows_by_id(session, Offering, changes.offerings)
            missing = changes.offerings - set(rows)
            if missing:
                raise KeyError(sorted(missing)[0])
            offerings = [OfferingProfile.from_record(rows[offering_id]) for offering_id in sorted(rows)]
            engine = self._with_offerings(session, engine, offerings)
        need_rows = _rows_by_id(session, Need, changes.needs) if changes.needs else {}
        if changes.needs:
            updates = self._open_needs(session, engine, need_rows.values())
            needs = needs.changed({need_id: updates.get(need_id) for need_id in changes.needs})
        # A decision (or a closed need, or a model change) is evidence for every ranking from
        # now on: the history is read again and every cached ranking dropped.
        everything = self._history_moved(state.engine, changes, need_rows)
        if everything:
            engine = engine.with_history(*self._read_history(session))
            self._history_version = version
        # A promoted model re-orders the head, and umbrellas fold members: a pair's score
        # alone no longer tells whether a changed offering enters a ranking.
        everything = everything or (
            bool(offerings) and (engine.reranker is not None or engine.members != state.engine.members)
        )
        new = Serving(version, engine, needs, int(engine.catalogue.active.sum()))
        if everything:
            self._swap(new, None)
            self._dirty = True
            return
        today = dt.date.today()
        scores = {
            offering.id: {
                match.need_id: match.score
                for match in needs.rank(
                    new.engine, offering.id, today=today, limit=len(needs), explain_results=False
                ).matches
            }
            for offering in offerings
        }
        changed_needs = changes.needs | changes.decisions

        def affected(key: RankingKey, ranking: Ranking) -> bool:
            profile, _, k, _ = key
            if profile.id in changed_needs:
                return True
            shown = {item.offering.id for item in ranking.results}
            for offering in offerings:
                if offering.id in shown:
                    return True  # its score moved, or it left
                if not offering.active:
                    continue
                if profile.id not in needs:
                    return True  # not an open need: no pair score at hand, so recompute
                score = scores[offering.id].get(profile.id)
                if score is not None and (len(ranking.results) < k or score >= ranking.results[-1].score):
                    return True  # it enters the ranking
            return False

        self._swap(new, affected)
        self._dirty = True

    def _with_offerings(
        self, session: Session, engine: RankingEngine, offerings: Sequence[OfferingProfile]
    ) -> RankingEngine:
        """``engine`` with ``offerings`` changed or added: each index gets their new vectors
        (or loses the inactive ones), their sentences are embedded, the engine shares the rest."""
        catalogue = engine.catalogue
        stale = [
            o
            for o in offerings
            if o.id not in catalogue.position
            or catalogue.keys[catalogue.position[o.id]] != artefact_key(o)
            or not catalogue.active[catalogue.position[o.id]]
        ]
        self.indexes.apply(
            session,
            offering_rows([offering for offering in stale if offering.active]),
            [offering.id for offering in offerings if not offering.active],
        )
        sentence_vectors: dict[str, np.ndarray | None] = {}
        multilingual = self.encoders.get(MULTILINGUAL)
        for offering in offerings:
            if not offering.active or multilingual is None:
                sentence_vectors[offering.id] = None
            elif offering in stale:
                sentence_vectors[offering.id] = embed_cached(
                    session, multilingual, sentences(offering.description)
                )
        added = [offering for offering in offerings if offering.id not in catalogue.position]
        views = engine.offering_indexes
        if added:
            ids = np.array(
                [vector_id(offering.id) for offering in (*catalogue.offerings, *added)], dtype=np.int64
            )
            views = {role: index.view(ids) for role, index in self.indexes.indexes.items()}
        return engine.with_changes(offerings, sentence_vectors, views)

    def _open_needs(
        self, session: Session, engine: RankingEngine, rows: Iterable[Need]
    ) -> dict[str, OpenNeed]:
        """The open ones of ``rows`` prepared for the donor view (embedded through the cache
        in one batch per encoder), by id."""
        rows = [row for row in rows if row.status in OPEN_NEED_STATUSES]
        if not rows:
            return {}
        queries = [self.prepare(need_profile(row), engine) for row in rows]
        vectors = self._query_vectors(session, queries)
        today = dt.date.today()
        return {
            row.id: open_need(
                engine,
                query,
                party_profile(row.party),
                need_vectors,
                confidential=bool(row.confidential),
                today=today,
            )
            for row, query, need_vectors in zip(rows, queries, vectors, strict=True)
        }

    def _query_vectors(self, session: Session, queries: Sequence[NeedQuery]) -> list[dict[str, np.ndarray]]:
        """``embed_query`` of many queries, one cache lookup per encoder role."""
        texts = [query.texts() for query in queries]
        out: list[dict[str, np.ndarray]] = [{} for _ in queries]
        for role, encoder in self.encoders.items():
            rows = embed_cached(session, encoder, [text[role][0] for text in texts])
            for position, row in enumerate(rows):
                out[position][role] = row
        if MULTILINGUAL in self.encoders:
            flat = [sentence for text in texts for sentence in text[SENTENCES]]
            rows = embed_cached(session, self.encoders[MULTILINGUAL], flat)
            start = 0
            for position, text in enumerate(texts):
                out[position][SENTENCES] = rows[start : start + len(text[SENTENCES])]
                start += len(text[SENTENCES])
        return out

    def embed_ahead(
        self, session: Session, *, needs: Iterable[Need] = (), offerings: Iterable[Offering] = ()
    ) -> None:
        """Put every vector the written ``needs`` and ``offerings`` will need into the
        embedding cache, in the writer's transaction, before it commits. The commit wakes every
        other worker (NOTIFY on PostgreSQL), and each one's ``sync`` then reads these vectors
        instead of encoding the same texts at the same moment as the writer; this process's
        own sync after the commit reads them too. Closed needs and inactive offerings are
        never embedded, so they are skipped. Every need and offering write calls it from its
        ``_commit_and_reflect``."""
        queries = [self.prepare(need_profile(need)) for need in needs if need.status in OPEN_NEED_STATUSES]
        if queries:
            self._query_vectors(session, queries)
        profiles = [OfferingProfile.from_record(offering) for offering in offerings if offering.active]
        if not profiles:
            return
        texts = [row.text for row in offering_rows(profiles)]
        for encoder in self.encoders.values():
            embed_cached(session, encoder, texts)
        if MULTILINGUAL in self.encoders:
            flat = [sentence for profile in profiles for sentence in sentences(profile.description)]
            embed_cached(session, self.encoders[MULTILINGUAL], flat)

    def offering_changed(self, session: Session, offering_id: str) -> None:
        """Reflect a committed offering write (and anything else logged since): ``sync``."""
        self.sync(session)
        if offering_id not in self.state.engine.catalogue.position:
            raise KeyError(offering_id)

    def need_changed(self, session: Session, need_id: str) -> None:
        """Reflect a committed need write (and anything else logged since): ``sync``."""
        self.sync(session)

    # ------------------------------------------------------------------ persistence

    @contextlib.contextmanager
    def _directory_lock(self, *, shared: bool, wait: bool = True) -> Iterator[bool]:
        """A file lock on the index folder, between processes sharing it: saving takes it
        exclusively, loading shared. Yields False when ``wait`` is off and it is taken."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with (self.index_dir / ".lock").open("a+") as handle:
            mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle.fileno(), mode)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def checkpoint(self, *, force: bool = False) -> bool:
        """Save the indexes and the engine's artefacts if anything changed since the last
        save (and ``checkpoint_seconds`` passed, unless ``force``): a restart then starts
        from them. Returns whether it saved. Another process saving into the same folder
        makes this one skip (it will save next time)."""
        if not self._dirty or self._state is None:
            return False
        if not force and time.monotonic() - self._checkpointed_at < self.checkpoint_seconds:
            return False
        with self.lock, self._directory_lock(shared=False, wait=force) as locked:
            if not locked:
                return False
            engine = self.state.engine
            fingerprints = self.indexes.save(offering_rows(engine.offerings))
            save_engine(self.index_dir / "engine", engine, fingerprints, artefact_version(self.taxonomy))
            self._dirty = False
            self._checkpointed_at = time.monotonic()
            return True

    # ------------------------------------------------------------------ reads

    def prepare(self, need: NeedProfile, engine: RankingEngine | None = None) -> NeedQuery:
        """``need`` prepared once for ranking, the donor view, coaching and the pages
        (``RankingEngine.prepare``, by ``engine`` or the current one); a need prepared before
        is not tagged again."""
        with self._queries_lock:
            query = self._queries.get(need)
            if query is not None:
                self._queries.move_to_end(need)
                return query
        query = (engine or self.engine).prepare(need)
        with self._queries_lock:
            self._queries[need] = query
            if len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return query

    def need_vectors(self, session: Session, query: NeedQuery) -> dict[str, np.ndarray]:
        """The vectors of ``query``'s texts, through the embedding cache (caller commits)."""
        return embed_query(query, self.encoders, lambda encoder, texts: embed_cached(session, encoder, texts))

    def donor_view(
        self,
        session: Session,
        offering_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        min_score: float | None = None,
        include_confidential: bool = True,
        today: dt.date | None = None,
        explained: bool = True,
    ) -> DonorPage:
        """The donor view: the open needs ``offering_id`` could serve, best first, scoring at
        least ``min_score`` (when given), ``limit`` of them from ``offset``.

        Each need is scored as the offering scores in that need's own ranking (see
        ``matcher.engine.donor``: one vectorised pass over the open needs), and the offering's
        eligibility rules (region, country, status, window) apply to each need's Party.
        Computed on the current snapshot without any lock; ``explained`` off leaves the
        explanations out (the scores alone). ``KeyError`` for an unknown id."""
        self.ensure_fresh(session)
        state = self.state
        return state.needs.rank(
            state.engine,
            offering_id,
            today=today or dt.date.today(),
            include_confidential=include_confidential,
            min_score=min_score,
            offset=offset,
            limit=limit,
            explain_results=explained,
        )

    def rank_needs_for_offering(
        self,
        session: Session,
        offering_id: str,
        *,
        k: int = 10,
        include_confidential: bool = True,
        today: dt.date | None = None,
    ) -> list[DonorMatch]:
        """The best ``k`` of the donor view (``donor_view``)."""
        return self.donor_view(
            session, offering_id, limit=k, include_confidential=include_confidential, today=today
        ).matches

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
        per snapshot and kept until a change that can affect them; computed without a lock."""
        self.ensure_fresh(session)
        state = self.state
        profile = need.need if isinstance(need, NeedQuery) else need
        today = today or dt.date.today()
        key = (profile, party, k, today)
        cached = self._rankings.get(key)
        if cached is not None:
            return cached
        query = need if isinstance(need, NeedQuery) else self.prepare(need)
        ranking = state.engine.rank(
            query, party, need_vectors=self.need_vectors(session, query), k=k, today=today
        )
        with self._rankings.lock:
            if self._state is state:  # a snapshot swapped meanwhile may have made it stale
                self._rankings.put(key, ranking)
        return ranking

    def cached_rankings(self) -> int:
        return len(self._rankings)


def _by_id(rows: list[IndexedRow]) -> list[IndexedRow]:
    return sorted(rows, key=lambda row: row.id)


def _open_needs_query() -> Any:
    return (
        select(Need)
        .where(Need.status.in_(OPEN_NEED_STATUSES))
        .options(selectinload(Need.party))
        .order_by(Need.id)
    )


def _rows_by_id(session: Session, model: Any, ids: Iterable[str]) -> dict[str, Any]:
    wanted = sorted(set(ids))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(model).where(model.id.in_(chunk)).execution_options(populate_existing=True)
        if model is Need:
            query = query.options(selectinload(Need.party))
        for row in session.scalars(query):
            found[row.id] = row
    return found
