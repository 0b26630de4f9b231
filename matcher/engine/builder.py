"""One way to assemble a ready ``RankingEngine``, shared by the service, ``matcher rank``,
``matcher eval`` and ``matcher bench``, so that what is evaluated and measured is what ships.

The callers differ only in where vectors come from: the service embeds through the
database's embedding cache and keeps persisted FAISS indexes; the evaluation embeds through
its own file cache and builds in-memory indexes; the benchmark hands in synthetic vectors.
So the builder takes an embedding function ``embed(encoder, texts) -> rows`` and, per
encoder role, either an existing index holding every active offering or a factory for a
new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from matcher.embeddings.encoders import MULTILINGUAL, Encoder
from matcher.embeddings.index import VectorIndex, vector_id
from matcher.engine.artefacts import SavedEngine
from matcher.engine.catalogue import artefact_key
from matcher.engine.domain import OfferingProfile
from matcher.engine.history import History, PastNeed
from matcher.engine.query import SENTENCES, NeedQuery
from matcher.engine.ranking import RankingEngine
from matcher.engine.reranker import LinearReranker
from matcher.engine.sentence_vectors import SentenceVectors
from matcher.engine.text.lexical import sentences
from matcher.engine.text.tagging import Glossary, keyword_glossary
from matcher.engine.weights import RankingWeights
from matcher.taxonomy import Taxonomy

Embed = Callable[[Encoder, Sequence[str]], np.ndarray]
"""``embed(encoder, texts)``: unit float32 rows aligned with ``texts`` (``(0, dimension)`` for none)."""

IndexFactory = Callable[[Encoder], VectorIndex]
"""An empty vector index for ``encoder``'s vectors."""


def new_index(encoder: Encoder) -> VectorIndex:
    """The default factory: ``VectorIndex``'s automatic layout (exact below 10k vectors)."""
    return VectorIndex(encoder.dimension, encoder_name=encoder.name)


def build_engine(
    *,
    offerings: Sequence[OfferingProfile],
    encoders: Mapping[str, Encoder],
    embed: Embed,
    taxonomy: Taxonomy,
    weights: RankingWeights | None = None,
    indexes: Mapping[str, VectorIndex] | None = None,
    index_factory: IndexFactory = new_index,
    reuse: RankingEngine | None = None,
    history: History | Sequence[PastNeed] = (),
    reranker: LinearReranker | None = None,
    saved: SavedEngine | None = None,
) -> RankingEngine:
    """A ``RankingEngine`` over ``offerings`` (every offering, active or not).

    ``encoders`` maps an encoder role (``MULTILINGUAL``, ``ENGLISH``) to its encoder. For each
    role, ``indexes`` may give an index that already holds every active offering under
    ``vector_id(offering.id)`` (the service's persisted ones); otherwise one is made with
    ``index_factory`` and filled with ``embed`` of the active offerings' texts. With a
    multilingual encoder the engine also gets the active offerings' sentence vectors and the
    keyword glossary (both embedded with it, sentences first, then the glossary's phrases).

    ``reuse`` is the previous engine built with the same encoders and taxonomy: its tagger,
    glossary, per-offering artefacts and the sentence vectors of unchanged descriptions are
    reused, so a one-offering change embeds only that offering's sentences.

    ``history`` (past needs, ``matcher.engine.history``) is embedded with the multilingual
    encoder (``build_history``) unless it is an embedded ``History`` already; ``reranker`` is
    a promoted learned model, or None.

    ``saved`` (``matcher.engine.artefacts``) lends the artefacts and sentence vectors saved by
    an earlier process for every offering whose text and codes are unchanged; its sentence
    matrix is used in place (memory-mapped) when its rows come first in ``offerings``.
    """
    active = [offering for offering in offerings if offering.active]
    ready = dict(indexes or {})
    for role, encoder in encoders.items():
        if role not in ready:
            index = index_factory(encoder)
            index.add(
                np.array([vector_id(offering.id) for offering in active], dtype=np.int64),
                embed(encoder, [offering.text for offering in active]),
            )
            ready[role] = index
    ids_by_row = np.array([vector_id(offering.id) for offering in offerings], dtype=np.int64)
    multilingual = encoders.get(MULTILINGUAL)
    offering_sentences = SentenceVectors.empty()
    glossary: Glossary = {}
    if multilingual is not None:
        offering_sentences = sentence_vectors(offerings, multilingual, embed, reuse, saved)
        glossary = (
            reuse.glossary
            if reuse is not None and reuse.glossary
            else keyword_glossary(taxonomy, lambda texts: embed(multilingual, texts))
        )
    return RankingEngine(
        offerings=offerings,
        offering_indexes={role: index.view(ids_by_row) for role, index in ready.items()},
        taxonomy=taxonomy,
        weights=weights,
        offering_sentences=offering_sentences,
        glossary=glossary,
        reuse=reuse,
        known=saved.artefacts if saved is not None else None,
        vocabulary=saved.vocabulary if saved is not None else None,
        history=history if isinstance(history, History) else build_history(history, encoders, embed),
        reranker=reranker,
    )


def build_history(records: Sequence[PastNeed], encoders: Mapping[str, Encoder], embed: Embed) -> History:
    """``records`` with their multilingual vectors (the same text and encoder as a need's
    own multilingual vector). Without a multilingual encoder there is no similarity to
    measure, so the history is empty."""
    multilingual = encoders.get(MULTILINGUAL)
    if not records or multilingual is None:
        return History()
    return History(tuple(records), embed(multilingual, [record.text for record in records]))


def sentence_vectors(
    offerings: Sequence[OfferingProfile],
    encoder: Encoder,
    embed: Embed,
    reuse: RankingEngine | None = None,
    saved: SavedEngine | None = None,
) -> SentenceVectors:
    """The description sentences' vectors under ``encoder`` of each active offering (None for
    an inactive one), row-aligned with ``offerings``. Vectors ``reuse`` or ``saved`` hold for
    an offering with the same description are kept; the rest are embedded in one call, in
    offering order."""
    keys = [artefact_key(offering) for offering in offerings] if saved is not None else []
    laid_out = saved.sentences_for(offerings, keys) if saved is not None else None
    blocks: dict[int, np.ndarray | None] = {}
    missing: list[tuple[int, list[str]]] = []
    for row, offering in enumerate(offerings):
        if laid_out is not None and (not offering.active or laid_out.vectors(row) is not None):
            continue  # already right in the saved layout (an inactive row has none there)
        if not offering.active:
            blocks[row] = None
            continue
        known = _known_sentences(reuse, offering)
        if known is None and saved is not None:
            saved_row = saved.position.get(offering.id)
            if saved_row is not None and saved.keys[saved_row] == keys[row] and saved.active[saved_row]:
                known = saved.sentences.vectors(saved_row)
        if known is not None:
            blocks[row] = known
        else:
            missing.append((row, sentences(offering.description)))
    if missing:
        vectors = embed(encoder, [text for _, texts in missing for text in texts])
        start = 0
        for row, texts in missing:
            blocks[row] = vectors[start : start + len(texts)]
            start += len(texts)
    if laid_out is not None:
        return laid_out.changed(blocks)
    return SentenceVectors.of([blocks.get(row) for row in range(len(offerings))], encoder.dimension)


def _known_sentences(reuse: RankingEngine | None, offering: OfferingProfile) -> np.ndarray | None:
    if reuse is None:
        return None
    row = reuse.catalogue.position.get(offering.id)
    if row is None or reuse.catalogue.offerings[row].description != offering.description:
        return None
    return reuse.sentences.vectors(row)


def embed_query(query: NeedQuery, encoders: Mapping[str, Encoder], embed: Embed) -> dict[str, np.ndarray]:
    """The need vectors ``RankingEngine.rank`` takes: one vector per encoder role, and the
    sentence vectors (``SENTENCES``) when there is a multilingual encoder."""
    texts = query.texts()
    vectors = {role: embed(encoder, texts[role])[0] for role, encoder in encoders.items()}
    if MULTILINGUAL in encoders:
        vectors[SENTENCES] = embed(encoders[MULTILINGUAL], texts[SENTENCES])
    return vectors
