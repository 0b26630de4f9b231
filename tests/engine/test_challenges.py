"""The challenge-kind reader: cue lists in six languages, the question's lean, survey ticks,
the fallback on assistance types, and the vague flag from the request reader's own check."""

from __future__ import annotations

import pytest

from matcher.engine.challenges import (
    CHALLENGE_KINDS,
    MISSING_ITEMS,
    ChallengeReader,
    load_challenge_kinds,
    missing_label,
    normalise,
    read_statement,
)
from matcher.engine.understanding import default_reader
from matcher.taxonomy import UN_LANGUAGES, load_taxonomy


@pytest.fixture(scope="module")
def reader() -> ChallengeReader:
    return ChallengeReader()


def test_every_kind_has_cues_labels_and_an_assistance_type_in_every_language() -> None:
    kinds = load_challenge_kinds()
    assert tuple(kinds) == CHALLENGE_KINDS
    types = set(load_taxonomy().assistance_types)
    for kind in kinds.values():
        assert set(kind.cues) == set(UN_LANGUAGES), kind.code
        assert all(len(cues) >= 8 for cues in kind.cues.values()), kind.code
        assert set(kind.label) == set(UN_LANGUAGES), kind.code
        assert kind.assistance_type in types
        assert set(kind.missing) <= set(MISSING_ITEMS)


@pytest.mark.parametrize(
    ("text", "language", "kind"),
    [
        ("The ministry has no budget line to buy amalgam separators for public clinics.", "en", "financing"),
        ("Les inspecteurs ne sont pas formés au prélèvement des émissions de mercure.", "fr", "capacity"),
        (
            "Ningún laboratorio del país cuenta con equipos para medir mercurio en el aire.",
            "es",
            "technology-access",
        ),
        ("Нам неизвестны объёмы ртути, используемой старателями: данные отсутствуют.", "ru", "information"),
        ("不同部门之间职责不清，缺乏协调机制，执法依据不足。", "zh", "institutional"),
        ("لا يوجد نص تنظيمي يحدد الجهة المخولة بسحب المنتجات المحتوية على الزئبق.", "ar", "institutional"),
    ],
)
def test_dominant_kind_in_six_languages(reader: ChallengeReader, text: str, language: str, kind: str) -> None:
    assert reader.classify(text, language).kind == kind


def test_money_wins_a_tie_over_people(reader: ChallengeReader) -> None:
    reading = reader.classify("We lack money, skills and expertise.", "en")
    assert reading.scores["financing"] == reading.scores["capacity"] == 2
    assert reading.kind == "financing"


def test_the_question_leans_only_when_the_answer_is_silent(reader: ChallengeReader) -> None:
    silent = "As indicated in our previous report, the situation has not changed."
    question = "What capacities (staff, skills, institutions) does your country lack?"
    assert reader.classify(silent, "en").kind is None
    assert reader.classify(silent, "en", question=question).kind == "capacity"
    # A clear answer is not overturned by its question.
    assert reader.classify("No budget was allocated.", "en", question=question).kind == "financing"


def test_survey_ticks_and_the_assistance_type_fallback(reader: ChallengeReader) -> None:
    assert reader.classify("", "en", missing=["data"]).kind == "information"
    assert reader.classify("", "en", missing=["infrastructure"]).kind == "technology-access"
    fallback = reader.classify("Please help us.", "en", assistance_types=["policy"])
    assert fallback.kind == "institutional" and fallback.fallback


def test_unknown_language_reads_every_language_cues(reader: ChallengeReader) -> None:
    assert reader.classify("aucun financement n'est prévu", None).kind == "financing"


def test_normalise_merges_forms_that_mean_the_same() -> None:
    assert normalise("ЁЛКА") == "елка"
    assert normalise("إِدارة") == "ادارة"
    assert normalise("l’État") == "l'état"


def test_a_statement_is_read_once_with_the_request_readers_vague_check() -> None:
    vague = read_statement(
        "Lack of adequate financial and technical resources to implement the Convention.",
        "en",
        reader=default_reader(),
    )
    assert vague.vague and vague.challenge.kind == "financing"
    specific = read_statement(
        "Customs officers at the Dar es Salaam port are not trained to recognise mercury consignments "
        "declared under other chemical names, and do not know the written-consent procedure for mercury imports.",
        None,
        reader=default_reader(),
    )
    assert specific.language == "en" and not specific.vague
    assert specific.challenge.kind == "capacity"
    assert "supply-trade" in specific.reading.inferred_sectors


def test_missing_labels_exist_in_six_languages() -> None:
    for language in UN_LANGUAGES:
        for item in (*MISSING_ITEMS, "missing", "sources"):
            assert missing_label(item, language)
    assert missing_label("skills", "fr") == "compétences"
