"""An engine changed offering by offering ranks like one built from scratch, and the
float16 sentence vectors leave the development set's rankings as they were."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from evaluation.dataset import load_labelled_set
from matcher.embeddings.index import vector_id
from matcher.engine.builder import sentence_vectors
from matcher.engine.domain import OfferingProfile
from matcher.engine.ranking import RankingEngine
from matcher.engine.sentence_vectors import SentenceVectors
from matcher.engine.text.lexical import sentences
from tests.factories import FAKE_ENCODER, embed, fake_vectors, make_engine, make_offering

TODAY = dt.date(2026, 11, 28)


def results(engine: RankingEngine, data: object, needs: int = 20) -> list[list[tuple[str, float]]]:
    out = []
    for need in data.needs[:needs]:  # type: ignore[attr-defined]
        query = engine.prepare(need)
        ranking = engine.rank(
            query,
            data.parties[need.party],  # type: ignore[attr-defined]
            need_vectors=fake_vectors(query),
            k=10,
            today=TODAY,
        )
        out.append([(item.offering.id, round(item.score, 6)) for item in ranking.results])
    return out


def changed_engine(engine: RankingEngine, offerings: list[OfferingProfile]) -> RankingEngine:
    """What the service does: indexes changed in place, then ``with_changes``."""
    indexes = {role: view.index for role, view in engine.offering_indexes.items()}  # type: ignore[attr-defined]
    for index in indexes.values():
        for offering in offerings:
            if offering.active:
                index.add([vector_id(offering.id)], FAKE_ENCODER.encode([offering.text]))
            else:
                index.remove([vector_id(offering.id)])
    catalogue_ids = [o.id for o in engine.offerings] + [
        o.id for o in offerings if o.id not in engine.catalogue.position
    ]
    ids = np.array([vector_id(offering_id) for offering_id in catalogue_ids], dtype=np.int64)
    vectors = {
        offering.id: (FAKE_ENCODER.encode(sentences(offering.description)) if offering.active else None)
        for offering in offerings
    }
    return engine.with_changes(offerings, vectors, {role: index.view(ids) for role, index in indexes.items()})


def test_a_changed_engine_ranks_like_a_fresh_one() -> None:
    data = load_labelled_set()
    offerings = list(data.offerings)
    engine = make_engine(offerings)
    edits = [
        dataclasses.replace(offerings[2], description=offerings[2].description + " Mercury waste storage."),
        dataclasses.replace(offerings[5], active=False),
        dataclasses.replace(offerings[9], sectors=("waste",), regions=("africa",)),
        make_offering(id="aaa-new", description="Mercury waste collection and storage for hospitals."),
    ]
    changed = changed_engine(engine, edits)
    by_id = {offering.id: offering for offering in offerings}
    by_id.update({offering.id: offering for offering in edits})
    fresh = make_engine([by_id[offering.id] for offering in changed.offerings])
    assert results(changed, data) == results(fresh, data)
    # The old engine's own state is intact (the vector indexes are shared and changed in place).
    assert engine.offerings == offerings and len(engine.catalogue) == len(offerings)
    original = make_engine(offerings)
    for need in data.needs[:10]:
        np.testing.assert_array_equal(
            engine.catalogue.lexicon.score_all(need.text), original.catalogue.lexicon.score_all(need.text)
        )
    assert changed.catalogue.position["aaa-new"] == len(offerings)  # a new offering takes the next row


def test_a_changed_catalogue_keeps_every_column_and_the_sub_sectors_right() -> None:
    """Every column array, the sub-sectors a description mentions and the umbrellas of a
    changed engine are those of one built from its offerings; with a history, it ranks as a
    fresh engine with that history (new rows are bound to the history's records)."""
    from evaluation.dataset import DEFAULT_GROUPS, DEFAULT_HISTORY, load_groups, load_history

    data = load_labelled_set()
    offerings = list(data.offerings)
    records = load_history(DEFAULT_HISTORY, data, load_groups(DEFAULT_GROUPS))
    mentioning = next(
        row for row, found in enumerate(make_engine(offerings).catalogue.mentioned_subsectors) if found
    )
    engine = make_engine(offerings, history=records)
    served = next(o for record in records for o in record.served)
    edits = [
        # No longer mentions its sub-sectors, then one that mentions cement kilns.
        dataclasses.replace(offerings[mentioning], description="Training for customs officers."),
        dataclasses.replace(
            offerings[3], description=offerings[3].description + " Cement kilns and coal-fired power plants."
        ),
        dataclasses.replace(offerings[9], sectors=("emissions",)),
        dataclasses.replace(offerings[position_of(offerings, served)], active=False),
        make_offering(
            id="aaa-new", description="Cement kilns and coal-fired power plants.", sectors=("emissions",)
        ),
    ]
    changed = changed_engine(engine, edits)
    by_id = {offering.id: offering for offering in offerings}
    by_id.update({offering.id: offering for offering in edits})
    fresh = make_engine([by_id[offering.id] for offering in changed.offerings], history=records)
    new, old = changed.catalogue, fresh.catalogue
    assert new.mentioned_subsectors == old.mentioned_subsectors
    assert new.mentioned_subsectors[-1]  # the new offering's cement
    for name in ("subsectors", "sector_count", "sectors", "types", "active", "general", "code_profiles"):
        np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)
    assert changed.members == fresh.members
    assert results(changed, data) == results(fresh, data)


def position_of(offerings: list[OfferingProfile], offering_id: str) -> int:
    return next(row for row, offering in enumerate(offerings) if offering.id == offering_id)


def test_float16_sentence_vectors_leave_the_dev_rankings_unchanged() -> None:
    data = load_labelled_set()
    engine = make_engine(data.offerings)
    # The same engine with float32 sentence vectors (what was held before).
    blocks = [
        FAKE_ENCODER.encode(sentences(offering.description)) if offering.active else None
        for offering in engine.offerings
    ]
    wide = SentenceVectors(
        engine.sentences.offsets,
        np.concatenate([block for block in blocks if block is not None]).astype(np.float32),
        engine.sentences.present,
        dimension=engine.sentences.dimension,
    )
    float32_engine = RankingEngine(
        offerings=engine.offerings,
        offering_indexes=engine.offering_indexes,
        taxonomy=engine.taxonomy,
        offering_sentences=wide,
        glossary=engine.glossary,
    )
    half = results(engine, data, needs=58)
    full = results(float32_engine, data, needs=58)
    assert [[offering for offering, _ in ranking] for ranking in half] == [
        [offering for offering, _ in ranking] for ranking in full
    ]
    worst = max(abs(a[1] - b[1]) for x, y in zip(half, full, strict=True) for a, b in zip(x, y, strict=True))
    assert worst < 1e-3
    assert engine.sentences.matrix.dtype == np.float16


def test_sentence_vectors_follow_offerings_rows() -> None:
    offerings = [
        make_offering(id="a", description="Mercury waste. Storage of lamps."),
        make_offering(id="b", description="Training dentists.", active=False),
    ]
    store = sentence_vectors(offerings, FAKE_ENCODER, embed)
    assert store.vectors(0) is not None and store.vectors(0).shape == (2, FAKE_ENCODER.dimension)  # type: ignore[union-attr]
    assert store.vectors(1) is None
    grown = store.changed({1: FAKE_ENCODER.encode(["Training dentists."]), 2: None})
    assert grown.vectors(1) is not None and grown.vectors(2) is None and store.vectors(1) is None
    compact = grown.compacted()
    np.testing.assert_array_equal(compact.vectors(1), grown.vectors(1))
