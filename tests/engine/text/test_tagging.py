"""The keyword tagger: behaviour on small texts, and its measured quality as a floor."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from evaluation.dataset import load_labelled_set
from evaluation.quality import tagger_scores
from matcher.engine.text.tagging import KeywordTagger, english_equivalents, keyword_glossary
from matcher.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def tagger() -> KeywordTagger:
    return KeywordTagger(load_taxonomy())


@pytest.mark.parametrize(
    ("text", "sector"),
    [
        ("Our dentists still place amalgam fillings.", "dental-amalgam"),
        ("Nos dentistes utilisent encore l'amalgame dentaire.", "dental-amalgam"),
        ("Los mineros artesanales de oro usan mercurio.", "asgm"),
        ("Старатели используют ртуть для амальгамации золота.", "asgm"),
        ("التعدين الحرفي والضيق النطاق للذهب", "asgm"),
        ("我们需要处理含汞废物", "waste"),
    ],
)
def test_six_languages_are_tagged(tagger: KeywordTagger, text: str, sector: str) -> None:
    assert sector in tagger.tag(text).codes("sectors")


def test_mercury_inside_a_phrase_is_required(tagger: KeywordTagger) -> None:
    """ "mercury mine" (primary mining, a supply matter) must not fire on gold mining that
    merely mentions mercury a few words away."""
    gold = tagger.tag("Mercury pollution from gold mining around the lake.")
    assert "supply-trade" not in gold.codes("sectors")
    primary = tagger.tag("The last primary mercury mine should close.")
    assert "supply-trade" in primary.codes("sectors")


def test_a_need_is_tagged_with_its_own_language_s_keywords(tagger: KeywordTagger) -> None:
    text = "Les piles de l'usine."  # "piles" are batteries in French, stacks of something in English
    assert "products" in tagger.tag(text, "fr").codes("sectors")
    assert "products" not in tagger.tag(text, "en").codes("sectors")
    assert "waste" not in tagger.tag("Le pays ne dispose pas de données sur le mercure.", "fr").codes(
        "sectors"
    )
    assert "waste" in tagger.tag("Élimination des déchets de mercure", "fr").codes("sectors")


def test_one_place_counts_once_across_languages(tagger: KeywordTagger) -> None:
    evidence = tagger.tag("We need media work.")
    # "media" is a keyword in English and in other languages; one place in the text is one piece of evidence.
    assert evidence.sectors.get("awareness", 0) == 1


def test_inflected_words_match_but_unrelated_longer_words_do_not(tagger: KeywordTagger) -> None:
    assert "waste" in tagger.tag("Hospitals produce wastes containing mercury.").codes("sectors")
    assert tagger.tag("Information on minerals and mineralogy.").sectors.get("supply-trade", 0) == 0


def test_quality_on_the_dev_needs_stays_above_the_measured_floor() -> None:
    """Hide the stated tags of the dev needs that have them and compare. Measured at
    sectors P 0.66 / R 0.81 and assistance types P 0.80 / R 0.51 (README); the floors
    sit a few points below so that a regression fails."""
    scores = tagger_scores(load_labelled_set(), KeywordTagger(load_taxonomy()))
    assert scores["sectors"]["precision"] >= 0.62
    assert scores["sectors"]["recall"] >= 0.75
    assert scores["assistance_types"]["precision"] >= 0.76
    assert scores["assistance_types"]["recall"] >= 0.48


def _encoder_pairing(pairs: dict[str, str]):
    """An ``encode`` for keyword_glossary tests: random unit vectors, except that each key
    of ``pairs`` gets exactly the vector of its value."""

    def encode(texts):
        def vector(text: str) -> np.ndarray:
            seed = int.from_bytes(hashlib.sha256(pairs.get(text, text).encode()).digest()[:4], "big")
            row = np.random.default_rng(seed).standard_normal(32)
            return row / np.linalg.norm(row)

        return np.vstack([vector(text) for text in texts]).astype(np.float32)

    return encode


def test_keyword_glossary_pairs_each_keyword_with_an_english_one_of_its_own_code() -> None:
    taxonomy = load_taxonomy()
    glossary = keyword_glossary(
        taxonomy, _encoder_pairing({"four à ciment": "cement kiln", "有色金属冶炼": "zinc smelter"})
    )
    assert glossary[("emissions", "four à ciment")] == "cement kiln"
    assert glossary[("emissions", "有色金属冶炼")] == "zinc smelter"
    for (code, phrase), english in glossary.items():
        entry = taxonomy.sectors.get(code) or taxonomy.subsectors.get(code) or taxonomy.assistance_types[code]
        allowed = [*entry.keywords["en"], entry.label["en"]]
        for subsector in entry.subsectors.values():  # a sector keyword paired within its sub-sector
            allowed += [*subsector.keywords["en"], subsector.label["en"]]
        assert english in allowed, (code, phrase, english)
        assert phrase not in entry.keywords["en"]
    # Every non-English keyword of every code has a counterpart.
    emissions = taxonomy.sectors["emissions"]
    for language in ("fr", "es", "ar", "zh", "ru"):
        assert all(("emissions", keyword) in glossary for keyword in emissions.keywords[language])


def test_a_sub_sector_keyword_is_paired_within_its_sub_sector() -> None:
    """Paired within the whole of ``emissions``, "мусоросжигательные заводы" (incinerators)
    took "cement plants" (the vocabulary author's note); within its sub-sector it cannot."""
    taxonomy = load_taxonomy()
    glossary = keyword_glossary(
        taxonomy, _encoder_pairing({"мусоросжигательные заводы": "cement plants", "烧碱": "acetaldehyde"})
    )
    incineration = taxonomy.subsectors["emissions/waste-incineration"]
    allowed = [*incineration.keywords["en"], incineration.label["en"]]
    assert glossary[("emissions/waste-incineration", "мусоросжигательные заводы")] in allowed
    assert glossary[("emissions", "мусоросжигательные заводы")] in allowed
    chlor_alkali = taxonomy.subsectors["processes/chlor-alkali"]
    if "烧碱" in chlor_alkali.keywords["zh"]:
        assert glossary[("processes", "烧碱")] in [*chlor_alkali.keywords["en"], chlor_alkali.label["en"]]


def test_english_equivalents_of_the_keywords_a_need_matched() -> None:
    taxonomy = load_taxonomy()
    glossary = {("emissions", "four à ciment"): "cement kiln"}
    evidence = KeywordTagger(taxonomy).tag("Nos fours à ciment émettent du mercure.", "fr")
    assert "four à ciment" in evidence.matched_keywords["emissions"]
    assert english_equivalents(evidence, glossary) == ["cement kiln"]
    assert english_equivalents(evidence, {}) == []


@pytest.mark.parametrize(
    ("text", "language", "subsector"),
    [
        # a smelter, a cement kiln and lamps, in every language
        ("Mercury emissions from our copper smelter.", "en", "emissions/non-ferrous-smelting"),
        ("Les émissions de la fonderie de zinc de Kolwezi.", "fr", "emissions/non-ferrous-smelting"),
        ("Emisiones de la fundición de estaño de Vinto.", "es", "emissions/non-ferrous-smelting"),
        ("Выбросы медеплавильного завода в Балхаше.", "ru", "emissions/non-ferrous-smelting"),
        ("انبعاثات مصهر النحاس في صحار.", "ar", "emissions/non-ferrous-smelting"),
        ("株洲锌冶炼厂的汞排放。", "zh", "emissions/non-ferrous-smelting"),
        ("Stack tests at two cement kilns.", "en", "emissions/cement"),
        ("Mesures à la cheminée de la cimenterie.", "fr", "emissions/cement"),
        ("Emisiones del horno cementero de la planta.", "es", "emissions/cement"),
        ("Выбросы ртути цементных заводов.", "ru", "emissions/cement"),
        ("انبعاثات مصانع الأسمنت.", "ar", "emissions/cement"),
        ("水泥窑协同处置的汞排放。", "zh", "emissions/cement"),
        ("Phasing out compact fluorescent lamps.", "en", "products/lamps"),
        ("Interdire les lampes fluorescentes au mercure.", "fr", "products/lamps"),
        ("Eliminar las lámparas fluorescentes compactas.", "es", "products/lamps"),
        ("Запрет люминесцентных ламп.", "ru", "products/lamps"),
        ("حظر المصابيح الفلورية المدمجة.", "ar", "products/lamps"),
        ("淘汰含汞荧光灯。", "zh", "products/lamps"),
    ],
)
def test_sub_sectors_are_tagged_in_six_languages(
    tagger: KeywordTagger, text: str, language: str, subsector: str
) -> None:
    evidence = tagger.tag(text, language)
    assert subsector in evidence.codes("subsectors"), evidence
    assert subsector.split("/")[0] in evidence.codes("sectors")  # it counts for its sector too


def test_function_words_do_not_count_in_a_phrase_s_window(tagger: KeywordTagger) -> None:
    """ "mesures à la cheminée": two function words between the keyword's words."""
    assert "emissions" in tagger.tag("Des mesures à la cheminée sont prévues.", "fr").codes("sectors")
    # a phrase split by a coordination still matches: "медеплавильные и цинковые заводы"
    split = tagger.tag("Медеплавильные и цинковые заводы Усть-Каменогорска.", "ru")
    assert "emissions/non-ferrous-smelting" in split.codes("subsectors")


def test_arabic_proclitics_are_stripped_and_mercury_no_longer_matches_increase(tagger: KeywordTagger) -> None:
    from matcher.engine.text.tagging import words

    assert words("بالزئبق والزئبق للزئبق الزئبق") == ["زيبق"] * 4
    # the old stem of الزئبق ("الزي") matched الزيادة (increase), الزيارة (visit), الزيت (oil)
    assert len({*words("الزيادة الزيارة الزيت"), "زيبق"}) == 4
    assert "waste" in tagger.tag("نحتاج إلى جمع النفايات المحتوية على الزئبق والتخلص منها.", "ar").codes(
        "sectors"
    )


def test_a_phrase_naming_mercury_matches_only_as_written(tagger: KeywordTagger) -> None:
    """The vocabulary author's note: "mercury mine" fired on "miners off mercury"."""
    off = tagger.tag("Moving gold miners off mercury. Gold mining is a pillar of the economy.", "en")
    assert "supply-trade/primary-mining" not in off.codes("subsectors")
    assert "supply-trade" not in off.codes("sectors")
    mine = tagger.tag("The mercury mine at Khaidarkan must close.", "en")
    assert "supply-trade/primary-mining" in mine.codes("subsectors")


def test_a_short_word_takes_only_a_plural_ending(tagger: KeywordTagger) -> None:
    from matcher.engine.text.tagging import _stem_matches

    assert _stem_matches("mine", "mines", short=True)
    assert not _stem_matches("mine", "miners", short=True)
    assert _stem_matches("mini", "mining")  # the stem of a longer word keeps its suffixes


def test_politeness_formulas_are_no_subject(tagger: KeywordTagger) -> None:
    """ "We remain at your disposal" once read as waste disposal; "recherche de financement"
    as research; "general" as género."""
    for text, language in [
        ("We remain at your disposal for any further information.", "en"),
        ("Nous sollicitons votre appui pour la recherche de financement.", "fr"),
        ("Agradeceríamos cualquier apoyo en general.", "es"),
    ]:
        sectors = tagger.tag(text, language).sectors
        assert set(sectors) <= {"cross-cutting"}, (text, sectors)
