"""Every interface string in all six UN languages: the keys every template and page uses
exist in each language, translated (not the English text, but for a short list of words
that are the same), with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from matcher.api.web import i18n
from matcher.api.web.session import preferred_language

WEB = Path(i18n.__file__).resolve().parents[1]
LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
# Words a language writes exactly as English does (cognates and the product's name).
SAME_AS_ENGLISH = {
    "fr": {
        "action",
        "app",
        "score",
        "description",
        "contact",
        "account",
        "answers_total",
        "cycle",
        "file_format",
    },
    "es": {"app", "sector", "no", "answers_total"},
}
SAME_NAMES = {
    "fr": {("field", "description"), ("field", "budget_usd"), ("field", "outcome_note"), ("field", "note")}
}
# Keys built at run time: t['unmet_' ~ key] in report.html, t[family] in _macros.html and
# offering_form.html, t[f"notice_{...}"] and the notice tables in session.py.
DYNAMIC = {
    *(
        f"unmet_{key}{suffix}"
        for key in ("no_good_match", "waiting", "not_yet_matched")
        for suffix in ("", "_hint")
    ),
    "sectors",
    "assistance_types",
    "regions",
    "saved",
    *(
        f"notice_{action}"
        for action in ("accept", "reject", "introduce", "outcome", "undo", "closed", "bulk", "run")
    ),
}


def used_keys() -> set[str]:
    """Keys the templates use (``t.key``, ``t['key']``) and the pages name (``t["key"]``,
    the notice tables)."""
    keys: set[str] = set(DYNAMIC)
    for template in (WEB / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        keys |= set(re.findall(r"\bt\.([a-z0-9_]+)\b", text))
        keys |= set(re.findall(r"\bt\[['\"]([a-z0-9_]+)['\"]\]", text))
    for module in WEB.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        keys |= set(re.findall(r"\bt\[['\"]([a-z0-9_]+)['\"]\]", text))
        keys |= set(re.findall(r"['\"](notice_[a-z0-9_]+)['\"]", text))
    keys.discard("format")  # t.key.format(...) is a method call, not a key
    return keys


def placeholders(text: str) -> set[str]:
    names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    return names | ({"%.2f"} if "%.2f" in text else set())


def test_the_walk_finds_the_templates_keys() -> None:
    keys = used_keys()
    assert {"queue", "bulk_reject", "undo", "amount_show", "notes_hint", "unmet_waiting_hint"} <= keys
    assert len(keys) > 150


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_key_is_translated(language: str) -> None:
    text, english = i18n.TEXT[language], i18n.TEXT["en"]
    missing = sorted(key for key in used_keys() if not text.get(key, "").strip())
    assert missing == []
    unused = sorted(set(english) - used_keys())
    assert unused == [], "keys no template or page uses: remove them"
    if language != "en":
        untranslated = sorted(
            key
            for key in english
            if text[key] == english[key] and key not in SAME_AS_ENGLISH.get(language, set())
        )
        assert untranslated == []
    wrong = sorted(key for key in english if placeholders(text[key]) != placeholders(english[key]))
    assert wrong == []
    assert set(text) == set(english)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_name_state_and_part_is_translated(language: str) -> None:
    for table in (i18n.STATES, i18n.PARTS):
        assert set(table[language]) == set(table["en"])
        if language != "en":
            assert [code for code in table["en"] if table[language][code] == table["en"][code]] == []
    for kind, names in i18n.NAMES["en"].items():
        theirs = i18n.NAMES[language].get(kind, {})
        assert set(theirs) == set(names), kind
        if language != "en":
            same = {(kind, code) for code in names if theirs[code] == names[code]}
            assert same <= SAME_NAMES.get(language, set()), kind
        assert all(placeholders(theirs[code]) == placeholders(names[code]) for code in names), kind


def test_the_browser_language_is_the_default() -> None:
    assert preferred_language("ar-JO,ar;q=0.9,en;q=0.8") == "ar"
    assert preferred_language("de-CH, fr;q=0.7, ru;q=0.9") == "ru"
    assert preferred_language("zh-Hans-CN") == "zh"
    assert preferred_language("de, it") == "en"
    assert preferred_language("es;q=0, fr;q=0.1") == "fr"
    assert preferred_language("") == "en"
