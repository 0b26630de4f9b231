"""A need is prepared once: the query, and the tagging it spares everyone downstream."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.query import SENTENCES, QueryBuilder
from matcher.engine.text.lexical import sentences
from matcher.engine.text.tagging import KeywordTagger, TagEvidence
from matcher.engine.understanding import RequestReader
from matcher.taxonomy import load_taxonomy
from tests.factories import fake_vectors, make_engine, make_need, make_offering, make_party

TODAY = dt.date(2026, 11, 28)
CATALOG = [
    make_offering(
        id="amalgam",
        provider_id="dental-org",
        title="Dental amalgam phase-down",
        description="Training dentists in mercury-free fillings and amalgam separators.",
        sectors=("dental-amalgam",),
    ),
    make_offering(id="waste", provider_id="waste-org", description="Collection of mercury waste."),
]

FRENCH = make_need(
    title="Fours à ciment",
    description="Nos fours à ciment émettent du mercure. Nous avons besoin de mesures.",
    language="fr",
)


@pytest.fixture
def tag_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text any ``KeywordTagger`` tags while the test runs."""
    calls: list[str] = []
    original = KeywordTagger.tag

    def counting(self: KeywordTagger, text: str, language: str | None = None) -> TagEvidence:
        calls.append(text)
        return original(self, text, language)

    monkeypatch.setattr(KeywordTagger, "tag", counting)
    yield calls


def test_rank_score_pair_and_coaching_never_tag_a_prepared_need_again(tag_calls: list[str]) -> None:
    engine = make_engine(CATALOG)
    tag_calls.clear()  # building tags the offerings' descriptions, once per engine
    need = make_need(title="Dentists", description="Our dentists need training on amalgam separators.")
    query = engine.prepare(need)
    assert tag_calls == [need.text]
    vectors = fake_vectors(query)
    ranking = engine.rank(query, make_party(), need_vectors=vectors, today=TODAY)
    pair = engine.score_pair(query, make_party(), "amalgam", need_vectors=vectors, today=TODAY)
    coaching = RequestReader().assess(query)
    assert tag_calls == [need.text]
    assert ranking.query is query and ranking.evidence is query.evidence
    assert pair is not None and pair.score == pytest.approx(
        next(item.score for item in ranking.results if item.offering.id == "amalgam")
    )
    assert not coaching.vague


def test_a_reading_s_evidence_spares_tagging_the_need_again(tag_calls: list[str]) -> None:
    reader = RequestReader()
    reading = reader.read(FRENCH.title, FRENCH.description, FRENCH.language)
    tag_calls.clear()
    with_reading = reader.assess(FRENCH, reading.evidence)
    assert tag_calls == []
    assert with_reading == reader.assess(FRENCH)  # the same verdict as tagging afresh
    with pytest.raises(ValueError, match="carries its own evidence"):
        reader.assess(make_engine(CATALOG).prepare(FRENCH), reading.evidence)


def test_the_query_holds_what_each_role_embeds() -> None:
    taxonomy = load_taxonomy()
    queries = QueryBuilder(
        taxonomy, KeywordTagger(taxonomy), glossary={("emissions", "four à ciment"): "cement kiln"}
    )
    query = queries.prepare(FRENCH)
    assert query.language == "fr"
    assert query.multilingual_text == FRENCH.text
    assert query.sentences == tuple(sentences(FRENCH.text)) and len(query.sentences) == 3
    assert query.english_text.startswith(FRENCH.text) and query.english_text.endswith("cement kiln")
    assert "emissions" in query.evidence.sectors
    assert query.texts() == {
        MULTILINGUAL: [FRENCH.text],
        ENGLISH: [query.english_text],
        SENTENCES: list(query.sentences),
    }
    assert "kiln" in query.own_terms  # the counterpart of the keyword the Party matched
    assert ("four à ciment", "cement kiln") in query.translations


def test_the_query_is_immutable() -> None:
    taxonomy = load_taxonomy()
    query = QueryBuilder(taxonomy, KeywordTagger(taxonomy)).prepare(FRENCH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.english_text = "something else"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        query.code_profile[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.evidence.sectors = {}  # type: ignore[misc]


def test_code_profile_weighs_stated_codes_above_inferred_ones() -> None:
    taxonomy = load_taxonomy()
    queries = QueryBuilder(taxonomy, KeywordTagger(taxonomy))
    query = queries.prepare(
        make_need(description="Dental amalgam in our clinics.", assistance_types=("training",))
    )
    profile = query.code_profile
    assert np.linalg.norm(profile) == pytest.approx(1.0)
    column = queries.codes.column
    assert profile[column["training"]] > profile[column["dental-amalgam"]] > 0
    assert profile[column["asgm"]] == 0
