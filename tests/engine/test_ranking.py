"""The pure ranking engine, with a deterministic fake encoder."""

from __future__ import annotations

import datetime as dt

import pytest

from matcher.engine.domain import NeedProfile, PartyProfile
from matcher.engine.explanations import NOTICE
from matcher.engine.ranking import Ranking, RankingEngine, RankingWeights
from matcher.engine.text.lexical import sentences
from tests.factories import fake_vectors, make_need, make_offering, make_party
from tests.factories import make_engine as build_engine

TODAY = dt.date(2026, 11, 28)


def rank(
    engine: RankingEngine,
    need: NeedProfile | None = None,
    party: PartyProfile | None = None,
    k: int = 10,
) -> Ranking:
    query = engine.prepare(need or make_need())
    return engine.rank(query, party or make_party(), need_vectors=fake_vectors(query), k=k, today=TODAY)


CATALOG = [
    make_offering(
        id="amalgam",
        provider_id="dental-org",
        title="Dental amalgam phase-down",
        description="Training dentists in mercury-free fillings and amalgam separators.",
        sectors=("dental-amalgam",),
    ),
    make_offering(
        id="gold",
        provider_id="mining-org",
        title="Artisanal gold mining without mercury",
        description="Retorts, gravity concentration and formalisation for artisanal miners.",
        sectors=("asgm",),
        assistance_types=("technology", "training"),
    ),
    make_offering(
        id="waste",
        provider_id="waste-org",
        title="Mercury waste management",
        description="Collection, storage and environmentally sound disposal of mercury waste and lamps.",
        sectors=("waste", "storage"),
    ),
]


def test_relevant_offering_ranks_first_and_scores_are_ordered() -> None:
    engine = build_engine(CATALOG)
    ranking = rank(
        engine, make_need(title="Dentists", description="Our dentists need training on amalgam separators.")
    )
    ids = [result.offering.id for result in ranking.results]
    assert ids[0] == "amalgam"
    scores = [result.score for result in ranking.results]
    assert scores == sorted(scores, reverse=True)


def test_components_add_up_and_explanation_is_complete() -> None:
    engine = build_engine(CATALOG)
    ranking = rank(engine, make_need(sectors=("waste",), budget_usd=1000))
    for result in ranking.results:
        assert result.score == pytest.approx(sum(result.components.values()))
        explanation = result.explanation
        assert explanation["components"] == pytest.approx(result.components, abs=1e-6)
        assert explanation["notice"] == NOTICE
        assert explanation["constraints_passed"] == list(ranking.removed)
        assert set(explanation["matched"]) == {"sectors", "assistance_types"}
    waste = next(result for result in ranking.results if result.offering.id == "waste")
    assert waste.explanation["matched"]["sectors"]["stated"] == ["waste"]
    assert "waste" in waste.explanation["matched_terms"]


def test_k_limits_results_and_ties_break_by_id() -> None:
    twins = [make_offering(id=f"twin-{n}", provider_id=f"org-{n}") for n in (3, 1, 2)]
    ranking = rank(build_engine(twins), k=2)
    assert [result.offering.id for result in ranking.results] == ["twin-1", "twin-2"]


def test_ineligible_offerings_are_never_ranked_and_counted() -> None:
    offerings = [
        *CATALOG,
        make_offering(id="latam-only", regions=("grulac",)),
        make_offering(id="off", active=False),
    ]
    ranking = rank(build_engine(offerings))
    ids = {result.offering.id for result in ranking.results}
    assert "latam-only" not in ids and "off" not in ids
    assert ranking.removed["region"] == 1 and ranking.removed["active"] == 1
    assert ranking.candidates == len(CATALOG)


def test_unverified_offering_is_demoted_and_flagged() -> None:
    same = {
        "title": "Mercury waste",
        "description": "Mercury waste collection and disposal.",
        "sectors": ("waste",),
    }
    offerings = [
        make_offering(id="a-unverified", provider_id="x", verified=False, **same),
        make_offering(id="b-verified", provider_id="y", **same),
    ]
    ranking = rank(build_engine(offerings))
    assert [result.offering.id for result in ranking.results] == ["b-verified", "a-unverified"]
    assert ranking.results[1].explanation["unverified"] is True
    assert ranking.results[1].components["unverified"] < 0


def test_budget_outside_the_range_lowers_the_score_and_says_so() -> None:
    offering = make_offering(id="grant", funding_min_usd=100_000, funding_max_usd=500_000)
    engine = build_engine([offering])
    inside = rank(engine, make_need(budget_usd=200_000)).results[0]
    far_below = rank(engine, make_need(budget_usd=1_000)).results[0]
    assert inside.explanation["budget"]["fit"] == "within range"
    assert far_below.explanation["budget"]["fit"] == "below range"
    assert far_below.score < inside.score


def test_one_provider_fills_at_most_four_of_the_top_ten() -> None:
    crowd = [
        make_offering(id=f"big-{n:02d}", provider_id="big", description="Help with mercury waste collection.")
        for n in range(8)
    ]
    others = [
        make_offering(
            id=f"small-{n}",
            provider_id=f"small-{n}",
            description="Dental clinics.",
            sectors=("dental-amalgam",),
        )
        for n in range(8)
    ]
    ranking = rank(build_engine(crowd + others), k=10)
    top = [result.offering.provider_id for result in ranking.results]
    assert top[:4] == ["big"] * 4  # the best four are all the big provider's
    assert len(top) == 10
    assert top.count("big") == 4  # the other four big ones are pushed out of the top ten


def test_non_latin_need_gets_lexical_evidence() -> None:
    """A hybrid must not silently turn dense-only for Cyrillic, Arabic or Chinese text."""
    offerings = [
        make_offering(
            id="ru",
            provider_id="a",
            title="Ртуть в стоматологии",
            description="Стоматологическая амальгама и сепараторы амальгамы для клиник.",
        ),
        make_offering(
            id="ar",
            provider_id="b",
            title="تعدين الذهب",
            description="التعدين الحرفي للذهب بدون زئبق للعمال.",
        ),
        make_offering(
            id="zh", provider_id="c", title="含汞废物", description="含汞废物的收集和无害环境处置。"
        ),
    ]
    engine = build_engine(offerings)
    for language, text, expected in [
        ("ru", "Нужны сепараторы амальгамы для стоматологических клиник", "ru"),
        ("ar", "نحتاج دعما للتعدين الحرفي للذهب", "ar"),
        ("zh", "我们需要含汞废物处置的帮助", "zh"),
    ]:
        ranking = rank(engine, make_need(title=text, description=text, language=language))
        best = ranking.results[0]
        assert best.offering.id == expected, language
        assert best.components["lexical"] > 0, language


def test_best_sentence_pair_is_explained_and_scored() -> None:
    offering = make_offering(
        id="lamps",
        description="We fund clinics. We collect and recycle used fluorescent lamps. We also train staff.",
    )
    engine = build_engine([offering])
    need = make_need(
        title="Lamps", description="Our towns need someone to collect and recycle used fluorescent lamps."
    )
    result = rank(engine, need).results[0]
    pair = result.explanation["sentence_pair"]
    # The fake encoder maps equal texts to equal vectors, so the best pair is the one sharing
    # the most wording; the component is the weight times that pair's cosine.
    assert pair["offering"] == "We collect and recycle used fluorescent lamps."
    assert pair["need"] in sentences(need.text)
    assert result.components["sentence"] == pytest.approx(
        RankingWeights().sentence * pair["similarity"], abs=1e-4
    )


def test_code_profiles_bridge_languages() -> None:
    """A Spanish need with no stated codes meets English offerings through the taxonomy."""
    offerings = [
        make_offering(
            id="dental",
            provider_id="a",
            description="Support for clinics phasing down amalgam.",
            sectors=("dental-amalgam",),
        ),
        make_offering(
            id="mining", provider_id="b", description="Support for small miners.", sectors=("asgm",)
        ),
    ]
    engine = build_engine(offerings)
    need = make_need(
        title="Amalgama dental",
        description="Los dentistas necesitan eliminar gradualmente la amalgama dental.",
        language="es",
    )
    by_id = {result.offering.id: result for result in rank(engine, need).results}
    assert by_id["dental"].components["concept"] > 0
    assert by_id["mining"].components["concept"] == 0
    assert by_id["dental"].score > by_id["mining"].score


def test_soft_provider_penalty_lets_a_close_rival_through() -> None:
    texts = {"description": "Mercury waste collection and disposal.", "sectors": ("waste",)}
    offerings = [
        make_offering(id="big-1", provider_id="big", **texts),
        make_offering(id="big-2", provider_id="big", **texts),
        make_offering(
            id="rival", provider_id="small", **{**texts, "description": texts["description"] + " Hi."}
        ),
    ]
    plain = [r.offering.id for r in rank(build_engine(offerings)).results]
    soft = rank(build_engine(offerings, RankingWeights(provider_repeat=1.0))).results
    assert plain[:2] == ["big-1", "big-2"]
    assert [r.offering.id for r in soft][:2] == ["big-1", "rival"]
    demoted = soft[2]
    assert demoted.components["provider_repeat"] == pytest.approx(-1.0)
    assert demoted.score == pytest.approx(sum(demoted.components.values()))


def test_vague_need_favours_general_implementation_offerings() -> None:
    """A need that names no subject is read as a general-implementation request: an
    offering covering cross-cutting gains; one listing many sectors but not cross-cutting
    does not. A specific need gets no such lift."""
    shared = {"description": "Support for mercury work.", "assistance_types": ("training",)}
    offerings = [
        make_offering(
            id="broad", provider_id="a", sectors=("waste", "asgm", "products", "storage"), **shared
        ),
        make_offering(id="general", provider_id="b", sectors=("cross-cutting",), **shared),
    ]
    engine = build_engine(offerings)
    vague = make_need(title="Help", description="We lack resources and capacity. Please help.")
    by_id = {r.offering.id: r for r in rank(engine, vague).results}
    assert by_id["general"].components["generality"] == pytest.approx(RankingWeights().generality)
    assert by_id["broad"].components["generality"] == 0
    assert by_id["general"].score > by_id["broad"].score
    specific = make_need(sectors=("waste",), description="Mercury waste from lamps.")
    assert all(r.components["generality"] == 0 for r in rank(engine, specific).results)


def test_country_focus_counts_only_in_the_offerings_sectors() -> None:
    kenya_centre = {"provider_id": "centre", "countries": ("KEN", "UGA"), "description": "Regional centre."}
    offerings = [
        make_offering(id="centre-waste", sectors=("waste",), **kenya_centre),
        make_offering(id="centre-asgm", sectors=("asgm",), **{**kenya_centre, "provider_id": "other"}),
    ]
    engine = build_engine(offerings)
    ranking = rank(engine, make_need(sectors=("waste",)), party=make_party(iso3="KEN"))
    by_id = {r.offering.id: r for r in ranking.results}
    assert by_id["centre-waste"].components["country_focus"] == pytest.approx(RankingWeights().country_focus)
    assert by_id["centre-asgm"].components["country_focus"] == 0


def test_glossary_brings_english_sub_sector_terms_to_a_non_english_need() -> None:
    offerings = [
        make_offering(
            id="cement",
            provider_id="a",
            description="Mercury from cement kiln stacks.",
            sectors=("emissions",),
        ),
        make_offering(
            id="coal",
            provider_id="b",
            description="Mercury from coal power plant stacks.",
            sectors=("emissions",),
        ),
    ]
    need = make_need(
        title="Fours",
        description="Nos fours à ciment émettent du mercure.",
        language="fr",
        party="SEN",
    )
    plain = build_engine(offerings)
    engine = RankingEngine(
        offerings=offerings,
        offering_indexes=plain.offering_indexes,
        taxonomy=plain.taxonomy,
        offering_sentences=plain.offering_sentences,
        glossary={("emissions", "four à ciment"): "cement kiln"},
    )
    assert engine.prepare(need).english_text.endswith("cement kiln")
    without = RankingEngine(
        offerings=offerings, offering_indexes=plain.offering_indexes, taxonomy=plain.taxonomy
    ).prepare(need)
    assert "Cement clinker production" in without.english_text  # the sub-sector needs no glossary
    assert without.translations == () and "kiln" not in without.own_terms  # nothing to credit
    by_id = {r.offering.id: r for r in rank(engine, need, party=make_party(iso3="SEN")).results}
    assert by_id["cement"].components["lexical"] > by_id["coal"].components["lexical"]
    assert {"cement", "kiln"} <= set(by_id["cement"].explanation["matched_terms"])
    assert by_id["cement"].explanation["matched_pairs"] == [
        {"need": "four à ciment", "english": "cement kiln"}
    ]
    # A rebuilt engine keeps the glossary it was given before.
    assert (
        RankingEngine(
            offerings=offerings,
            offering_indexes=engine.offering_indexes,
            taxonomy=engine.taxonomy,
            reuse=engine,
        ).glossary
        == engine.glossary
    )
