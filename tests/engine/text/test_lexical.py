"""Tokeniser per script and BM25 retrieval within each language."""

from __future__ import annotations

import sys
import unicodedata

import numpy as np
import pytest

from matcher.engine.text.lexical import LexicalIndex, _nonspacing_marks, sentences, tokenize


def test_latin_tokens_are_lowercased_and_accent_folded() -> None:
    expected = ["evaluation", "du", "mercure", "a", "l", "ecole", "2024"]
    assert tokenize("Évaluation du MERCURE à l'école, 2024") == expected
    assert tokenize("Évaluation à l'école", fold_accents=False) == ["évaluation", "à", "l", "école"]
    assert tokenize("Reducción del mercurio") == tokenize("reduccion DEL mercurio")


def test_compatibility_forms_are_normalised() -> None:
    assert tokenize("ＡＳＧＭ ﬁlling") == ["asgm", "filling"]


def test_arabic_diacritics_tatweel_and_alef_variants_are_removed() -> None:
    assert tokenize("الزِّئْبَقُ") == tokenize("الزئبق")
    assert tokenize("الملـــغم") == tokenize("الملغم")
    assert tokenize("إدارة") == tokenize("ادارة")
    assert tokenize("النفايات الخطرة") == ["النفايات", "الخطره"]


def test_cyrillic_words() -> None:
    assert tokenize("Ртуть в СТОМАТОЛОГИИ: всё!") == ["ртуть", "в", "стоматологии", "все"]


def test_han_characters_become_unigrams_and_bigrams() -> None:
    assert tokenize("汞废物") == ["汞", "废", "物", "汞废", "废物"]
    assert tokenize("ASGM汞 治理") == ["asgm", "汞", "治", "理", "治理"]


def test_stopwords_are_optional() -> None:
    text = "the mercury de la ртути и الزئبق في 汞的"
    assert "the" in tokenize(text)
    assert tokenize(text, remove_stopwords=True) == ["mercury", "ртути", "الزيبق", "汞", "汞的"]


def test_text_without_words_gives_no_tokens() -> None:
    assert tokenize("") == []
    assert tokenize(" -- ,; ") == []


SAME_LANGUAGE_CASES = {
    "ar": (
        [
            "التخلص التدريجي من استخدام الملغم السني المحتوي على الزئبق في عيادات طب الأسنان",
            "الحد من استخدام الزئبق في تعدين الذهب الحرفي والصغير النطاق وتدريب عمال المناجم",
            "الإدارة السليمة بيئيا لنفايات الزئبق وتخزينها المؤقت",
            "حماية صحة الأطفال والنساء الحوامل من التعرض للزئبق",
        ],
        "نحتاج إلى دعم لوقف استخدام المَلْغَم في طب الأسنان",
        0,
    ),
    "ru": (
        [
            "Поэтапный отказ от использования зубной амальгамы в стоматологических клиниках",
            "Сокращение использования ртути при кустарной и мелкомасштабной добыче золота",
            "Экологически обоснованное обращение с ртутными отходами и их временное хранение",
            "Мониторинг содержания ртути в рыбе и волосах населения",
        ],
        "Нужна помощь в сокращении ртути при добыче золота старателями",
        1,
    ),
    "zh": (
        [
            "逐步减少牙科诊所使用含汞牙科汞合金",
            "减少手工和小规模采金业中汞的使用并培训矿工",
            "汞废物的环境无害化管理和临时储存",
            "监测鱼类和人发中的汞含量",
        ],
        "我们需要帮助处理含汞废物并建设储存设施",
        2,
    ),
}

ENGLISH_DISTRACTORS = [
    "Phase-down of dental amalgam in public clinics",
    "Artisanal and small-scale gold mining without mercury",
    "Environmentally sound management of mercury waste",
]


@pytest.mark.parametrize("language", sorted(SAME_LANGUAGE_CASES))
def test_bm25_finds_the_document_on_the_same_topic(language: str) -> None:
    documents, query, expected = SAME_LANGUAGE_CASES[language]
    index = LexicalIndex(documents + ENGLISH_DISTRACTORS)

    scores = index.score_all(query)

    assert int(np.argmax(scores)) == expected
    assert scores[expected] > 0


def test_scores_follow_the_documents_order_and_shared_terms() -> None:
    index = LexicalIndex(["mercury waste", "mercury waste storage", "mercury storage", "dental amalgam"])
    scores = index.score_all("mercury storage")
    assert scores.dtype == np.float32 and scores.shape == (4,)
    assert scores[2] > scores[1] > scores[0] > 0  # both terms, shortest first; then one term
    assert scores[3] == 0


@pytest.mark.parametrize("query", ["", "   ", "!!!", "unknownword", "的"])
def test_empty_or_unknown_query_scores_nothing(query: str) -> None:
    index = LexicalIndex(["mercury waste", "dental amalgam"])
    assert not index.score_all(query).any()


def test_empty_collection() -> None:
    index = LexicalIndex([])
    assert len(index) == 0
    assert index.score_all("mercury").shape == (0,)


def test_accent_folding_class_is_exactly_the_nonspacing_marks() -> None:
    """The precomputed character class stands in for a per-character category check."""
    pattern = _nonspacing_marks()
    disagree = [
        code
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
        and bool(pattern.fullmatch(chr(code))) != (unicodedata.category(chr(code)) == "Mn")
    ]
    assert disagree == []
    assert tokenize("Ação Énergie ЁЖ naïve") == ["acao", "energie", "еж", "naive"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Under Art. 8 of the Convention, e.g. cement kilns, we need help. No. 12 kiln is old.",
            ["Under Art. 8 of the Convention, e.g. cement kilns, we need help.", "No. 12 kiln is old."],
        ),
        (
            "Según el art. 8, p. ej. las fundiciones, hay emisiones. Dr. Pérez lo confirmó ayer.",
            ["Según el art. 8, p. ej. las fundiciones, hay emisiones.", "Dr. Pérez lo confirmó ayer."],
        ),
        (
            "Согласно ст. 8 Конвенции нужно снизить выбросы. Вторая фраза здесь.",
            ["Согласно ст. 8 Конвенции нужно снизить выбросы.", "Вторая фраза здесь."],
        ),
        (
            "Le rapport de M. Diallo, cf. annexe, est prêt. Voir aussi la section suivante.",
            ["Le rapport de M. Diallo, cf. annexe, est prêt.", "Voir aussi la section suivante."],
        ),
        ("نحتاج إلى مساعدة عاجلة. الجملة الثانية هنا؟", ["نحتاج إلى مساعدة عاجلة.", "الجملة الثانية هنا؟"]),
        ("我们需要帮助。第二句话在这里。", ["我们需要帮助。", "第二句话在这里。"]),
    ],
)
def test_sentences_are_not_cut_at_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected
