"""The one engine builder: what it embeds, what it reuses, which indexes it uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL, Encoder, FakeEncoder
from matcher.embeddings.index import VectorIndex, vector_id
from matcher.engine import builder
from matcher.engine.ranking import RankingEngine
from matcher.engine.text.lexical import sentences
from matcher.taxonomy import load_taxonomy
from tests.factories import FAKE_ENCODER, fake_vectors, make_need, make_offering, make_party

CATALOG = [
    make_offering(id="a", description="Mercury waste collection. Safe storage of lamps."),
    make_offering(id="b", provider_id="other", description="Dental amalgam separators. Training."),
    make_offering(id="off", description="Closed programme for mercury waste.", active=False),
]


class CountingEmbed:
    """An embedding function that records every text it is asked for."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return encoder.encode(texts)


def build(
    embed: CountingEmbed,
    encoders: Mapping[str, Encoder] | None = None,
    *,
    indexes: Mapping[str, VectorIndex] | None = None,
    index_factory: builder.IndexFactory = builder.new_index,
) -> RankingEngine:
    return builder.build_engine(
        offerings=CATALOG,
        encoders=encoders or {MULTILINGUAL: FAKE_ENCODER, ENGLISH: FAKE_ENCODER},
        embed=embed,
        taxonomy=load_taxonomy(),
        indexes=indexes,
        index_factory=index_factory,
    )


def test_builds_indexes_sentences_and_glossary_of_the_active_offerings() -> None:
    embed = CountingEmbed()
    engine = build(embed)
    active_texts = [offering.text for offering in CATALOG if offering.active]
    assert embed.texts[: 2 * len(active_texts)] == active_texts * 2  # one index per role
    assert set(engine.offering_sentences) == {"a", "b"}
    texts, vectors = engine.offering_sentences["a"]
    assert texts == sentences(CATALOG[0].description) and vectors.shape == (2, FAKE_ENCODER.dimension)
    assert engine.glossary  # the keyword glossary, embedded with the multilingual encoder
    ranking = engine.rank(
        engine.prepare(make_need()), make_party(), need_vectors=fake_vectors(engine.prepare(make_need()))
    )
    assert [item.offering.id for item in ranking.results] == ["a", "b"]
    assert ranking.removed["active"] == 1


def test_existing_indexes_are_used_as_they_are() -> None:
    given = VectorIndex(FAKE_ENCODER.dimension, encoder_name=FAKE_ENCODER.name)
    given.add([vector_id("a")], FAKE_ENCODER.encode([CATALOG[0].text]))  # "b" left out on purpose
    embed = CountingEmbed()
    engine = build(embed, {MULTILINGUAL: FAKE_ENCODER}, indexes={MULTILINGUAL: given})
    assert CATALOG[0].text not in embed.texts and CATALOG[1].text not in embed.texts
    query = engine.prepare(make_need())
    by_id = {
        item.offering.id: item
        for item in engine.rank(query, make_party(), need_vectors=fake_vectors(query)).results
    }
    # "b" is not in the given index: it gets the lowest dense score retrieved, here a's.
    assert by_id["b"].components["dense_multilingual"] == by_id["a"].components["dense_multilingual"]


def test_a_rebuild_embeds_only_what_changed() -> None:
    first = CountingEmbed()
    previous = build(first)
    changed = make_offering(
        id="b", provider_id="other", description="Amalgam separators for public dental clinics."
    )
    embed = CountingEmbed()
    engine = builder.build_engine(
        offerings=[CATALOG[0], changed, CATALOG[2]],
        encoders={MULTILINGUAL: FAKE_ENCODER},
        embed=embed,
        taxonomy=load_taxonomy(),
        indexes={MULTILINGUAL: VectorIndex(FAKE_ENCODER.dimension, encoder_name="fake")},
        reuse=previous,
    )
    assert embed.texts == sentences(changed.description)  # no glossary, no unchanged sentences
    np.testing.assert_array_equal(engine.offering_sentences["a"][1], previous.offering_sentences["a"][1])
    assert engine.glossary is previous.glossary


def test_index_factory_and_encoder_choice() -> None:
    made: list[str] = []

    def factory(encoder: Encoder) -> VectorIndex:
        made.append(encoder.name)
        return VectorIndex(encoder.dimension, encoder_name=encoder.name, kind="exact")

    english_only: dict[str, Encoder] = {ENGLISH: FakeEncoder(32, name="english-fake")}
    engine = build(CountingEmbed(), english_only, index_factory=factory)
    assert made == ["english-fake"]
    assert engine.offering_sentences == {} and engine.glossary == {}  # no multilingual encoder
