"""Explanations credit only the Party's words or their translations, shown as such; and the
sub-sector fit sends a smelter to smelter programmes, not to another industry's."""

from __future__ import annotations

import datetime as dt

import pytest

from matcher.engine.query import explainable_terms
from matcher.engine.ranking import Ranking, RankingEngine
from matcher.engine.text.lexical import STOPWORDS_BY_LANGUAGE, tokenize
from tests.factories import fake_vectors, make_engine, make_need, make_offering, make_party

TODAY = dt.date(2026, 6, 1)
TIN_SMELTER = make_need(
    id="tin",
    party="BOL",
    language="es",
    title="Emisiones de mercurio de una fundición de estaño",
    description=(
        "La fundición de estaño de Vinto, en Oruro, procesa concentrados de estaño que contienen "
        "mercurio, y sus emisiones por la chimenea no se han medido nunca. Solicitamos apoyo para "
        "realizar mediciones de mercurio en los gases de salida y capacitar a 12 técnicos."
    ),
)
CATALOG = [
    make_offering(
        id="cement",
        provider_id="a",
        title="Cement area",
        description="Mercury from cement clinker kilns and coal-fired boilers: stack emissions, kiln dust, "
        "co-processing, best available techniques for cement plants.",
        sectors=("emissions",),
    ),
    make_offering(
        id="smelting",
        provider_id="b",
        title="Smelting support",
        description="Mercury emissions from non-ferrous smelting: copper smelter, zinc smelter and tin "
        "smelting, ore roasting, stack measurements and emission controls.",
        sectors=("emissions",),
    ),
    make_offering(
        id="general",
        provider_id="c",
        title="Industrial programme",
        description="Industrial emissions, chemicals and waste: technical assistance to governments.",
        sectors=("emissions", "waste", "processes"),
    ),
]


@pytest.fixture(scope="module")
def engine() -> RankingEngine:
    return make_engine(CATALOG)


@pytest.fixture(scope="module")
def ranking(engine: RankingEngine) -> Ranking:
    query = engine.prepare(TIN_SMELTER)
    return engine.rank(
        query, make_party(iso3="BOL", region="grulac"), need_vectors=fake_vectors(query), today=TODAY
    )


def test_the_tin_smelter_is_read_as_a_non_ferrous_emissions_request(ranking: Ranking) -> None:
    evidence = ranking.query.evidence
    assert "emissions" in evidence.codes("sectors") and "processes" not in evidence.codes("sectors")
    assert evidence.codes("subsectors") == ("emissions/non-ferrous-smelting",)
    text = ranking.query.english_text
    assert "Non-ferrous metal smelting and roasting" in text  # the need's own sub-sector
    for word in ("clinker", "cement", "coal", "boilers", "kiln"):  # the definition of emissions is gone
        assert word not in text.lower(), word


def test_matched_terms_are_the_party_s_words_or_their_shown_translations(ranking: Ranking) -> None:
    query = ranking.query
    party_words = set(tokenize(TIN_SMELTER.text, remove_stopwords=True))
    translated = {term for _, english in query.translations for term in tokenize(english)}
    stop_words = {word for listing in STOPWORDS_BY_LANGUAGE.values() for word in tokenize(listing)}
    seen_pairs = 0
    for item in ranking.results:
        explanation = item.explanation
        terms = explanation["matched_terms"]
        assert all(isinstance(term, str) for term in terms)
        for term in terms:
            assert term in party_words or term in translated, (item.offering.id, term)
            assert term not in stop_words and len(term) > 1 and not any(c.isdigit() for c in term)
        for word in ("clinker", "cement", "coal", "boilers", "kiln"):
            assert word not in terms
        for pair in explanation["matched_pairs"]:
            assert set(pair) == {"need", "english"}
            assert (pair["need"], pair["english"]) in query.translations
            seen_pairs += 1
    assert seen_pairs > 0  # "fundición de estaño → ..." is shown beside its translation


def test_explainable_terms_leave_out_stop_words_numbers_and_single_letters() -> None:
    assert explainable_terms("The 12 kilns of the plant, in 2024: a B 3rd kiln") == ["kilns", "plant", "kiln"]
    assert explainable_terms("Nous avons 3 fours à ciment et l'usine") == [
        "avons",
        "fours",
        "ciment",
        "usine",
    ]


def test_the_smelter_reaches_the_smelting_programme_before_the_cement_one(ranking: Ranking) -> None:
    order = [item.offering.id for item in ranking.results]
    assert order.index("smelting") < order.index("cement")
    components = {item.offering.id: item.components for item in ranking.results}
    assert components["smelting"]["subsector"] == 0  # it names the need's industry: no penalty
    assert components["cement"]["subsector"] < 0  # a specialist of another industry of the sector
    assert components["general"]["subsector"] == 0  # a broad programme is neither
