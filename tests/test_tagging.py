"""The keyword tagger: behaviour on small texts, and its measured quality as a floor."""

from __future__ import annotations

import pytest

from evaluation.dataset import load_labelled_set
from evaluation.quality import tagger_scores
from matcher.tagging import KeywordTagger
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
    text = "Le pays ne dispose pas de données sur le mercure."
    assert "waste" in tagger.tag(text).codes("sectors")  # the English stem "dispos" (disposal) fires
    assert "waste" not in tagger.tag(text, "fr").codes("sectors")
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
