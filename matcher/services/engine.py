"""Building and maintaining the ranking engine over the store.

This is where the pure engine meets the database: offerings are read from the store,
embedded through the embedding cache (keyed by encoder name and text hash, so
unchanged text is never embedded twice), and held in FAISS indexes persisted under
``MATCHER_DATA_DIR/index/`` with a manifest. An index whose manifest does not match the
rows in the database (encoder, dimension, fingerprint) or whose files are damaged is
rebuilt from the database, never served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.embeddings.encoders import Encoder, build_encoder
from matcher.embeddings.index import IndexLoadError, VectorIndex, fingerprint_rows
from matcher.lexical import sentences
from matcher.models import CachedEmbedding, Need, Offering, Party
from matcher.ranking import (
    ENGLISH,
    MULTILINGUAL,
    SENTENCES,
    Ranking,
    RankingEngine,
    RankingWeights,
    vector_id,
)
from matcher.taxonomy import load_taxonomy

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
EMBED_BATCH = 32


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_encoders(multilingual: str, english: str) -> dict[str, Encoder]:
    """Encoders by role from their config strings; an empty string turns a role off."""
    encoders: dict[str, Encoder] = {}
    if multilingual:
        encoders[MULTILINGUAL] = build_encoder(multilingual)
    if english:
        encoders[ENGLISH] = build_encoder(english)
    return encoders


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


@dataclass
class OfferingIndexes:
    """One persisted vector index per encoder role, over the active offerings."""

    directory: Path
    encoders: dict[str, Encoder]
    indexes: dict[str, VectorIndex] = field(default_factory=dict)
    rebuilt: list[str] = field(default_factory=list)

    def role_directory(self, role: str) -> Path:
        return self.directory / f"offerings-{role}"

    def fingerprint(self, role: str, offerings: Sequence[OfferingProfile]) -> str:
        name = self.encoders[role].name
        return fingerprint_rows(
            (vector_id(o.id), text_hash(f"{name}\n{o.text}")) for o in offerings if o.active
        )

    def load_or_build(
        self, session: Session, offerings: Sequence[OfferingProfile], progress: Progress | None = None
    ) -> None:
        """Load each role's index if it matches the rows; otherwise rebuild and save it."""
        active = [offering for offering in offerings if offering.active]
        for role, encoder in self.encoders.items():
            expected = self.fingerprint(role, offerings)
            try:
                self.indexes[role] = VectorIndex.load(
                    self.role_directory(role),
                    expected_encoder=encoder.name,
                    expected_dimension=encoder.dimension,
                    expected_fingerprint=expected,
                )
                if progress:
                    progress(len(active))
                continue
            except IndexLoadError as problem:
                logger.info("rebuilding the %s offering index: %s", role, problem)
            vectors = embed_cached(session, encoder, [offering.text for offering in active], progress)
            index = VectorIndex(encoder.dimension, encoder_name=encoder.name)
            index.add(np.array([vector_id(offering.id) for offering in active], dtype=np.int64), vectors)
            index.save(self.role_directory(role), fingerprint=expected)
            self.indexes[role] = index
            self.rebuilt.append(role)

    def apply(
        self, session: Session, offering: OfferingProfile, offerings: Sequence[OfferingProfile]
    ) -> None:
        """Bring every index up to date after one offering was added, changed or deactivated."""
        for role, encoder in self.encoders.items():
            index = self.indexes[role]
            if offering.active:
                index.add([vector_id(offering.id)], embed_cached(session, encoder, [offering.text]))
            else:
                index.remove([vector_id(offering.id)])
            index.save(self.role_directory(role), fingerprint=self.fingerprint(role, offerings))


class MatchingService:
    """The engine over the store's current offerings, kept fresh by ``offering_changed``."""

    def __init__(
        self,
        *,
        encoders: Mapping[str, Encoder],
        index_dir: Path,
        weights: RankingWeights | None = None,
    ) -> None:
        # One OpenMP thread: on 2 cores faiss single-query search ran 2-25x slower with two
        # threads than with one (measured; see matcher/embeddings/index.py).
        faiss.omp_set_num_threads(1)
        self.encoders = dict(encoders)
        self.weights = weights or RankingWeights()
        self.taxonomy = load_taxonomy()
        self.indexes = OfferingIndexes(directory=index_dir, encoders=self.encoders)
        self.offerings: list[OfferingProfile] = []
        self.offering_sentences: dict[str, tuple[list[str], np.ndarray]] = {}
        self.engine: RankingEngine | None = None

    def load(self, session: Session, progress: Progress | None = None) -> None:
        self.offerings = [
            OfferingProfile.from_record(row)
            for row in session.scalars(select(Offering).order_by(Offering.id))
        ]
        self.indexes.load_or_build(session, self.offerings, progress)
        self.offering_sentences = {}
        self._embed_sentences(session, [offering for offering in self.offerings if offering.active])
        self._rebuild_engine()

    def _embed_sentences(self, session: Session, offerings: Sequence[OfferingProfile]) -> None:
        """Sentence vectors of the offerings' descriptions (multilingual encoder, cached)."""
        encoder = self.encoders.get(MULTILINGUAL)
        if encoder is None:
            return
        split = [sentences(offering.description) for offering in offerings]
        vectors = embed_cached(session, encoder, [text for texts in split for text in texts])
        start = 0
        for offering, texts in zip(offerings, split, strict=True):
            self.offering_sentences[offering.id] = (texts, vectors[start : start + len(texts)])
            start += len(texts)

    def _rebuild_engine(self) -> None:
        self.engine = RankingEngine(
            offerings=self.offerings,
            offering_indexes=self.indexes.indexes,
            taxonomy=self.taxonomy,
            weights=self.weights,
            offering_sentences=self.offering_sentences,
            reuse=self.engine,
        )

    def offering_changed(self, session: Session, offering_id: str) -> None:
        """Reflect one created, changed or deactivated offering (call after the write)."""
        row = session.get(Offering, offering_id)
        if row is None:
            raise KeyError(offering_id)
        changed = OfferingProfile.from_record(row)
        self.offerings = [o for o in self.offerings if o.id != offering_id] + [changed]
        self.offerings.sort(key=lambda offering: offering.id)
        self.indexes.apply(session, changed, self.offerings)
        self.offering_sentences.pop(offering_id, None)
        if changed.active:
            self._embed_sentences(session, [changed])
        self._rebuild_engine()

    def need_vectors(self, session: Session, need: NeedProfile) -> dict[str, np.ndarray]:
        assert self.engine is not None, "call load() first"
        texts = self.engine.need_texts(need)
        vectors = {
            role: embed_cached(session, encoder, texts[role])[0] for role, encoder in self.encoders.items()
        }
        if MULTILINGUAL in self.encoders:
            vectors[SENTENCES] = embed_cached(session, self.encoders[MULTILINGUAL], texts[SENTENCES])
        return vectors

    def rank_need(
        self,
        session: Session,
        need: NeedProfile,
        party: PartyProfile,
        *,
        k: int = 10,
        today: dt.date | None = None,
    ) -> Ranking:
        assert self.engine is not None, "call load() first"
        return self.engine.rank(need, party, need_vectors=self.need_vectors(session, need), k=k, today=today)
