"""Interface text of the workbench in the six UN languages, one module per language
(``ar``, ``zh``, ``en``, ``fr``, ``ru``, ``es``), each with the same four tables:

* ``TEXT``: the words of the pages (keys used as ``t.key`` in the templates);
* ``STATES``: need statuses and proposal states;
* ``PARTS``: the parts of a score;
* ``NAMES``: names of codes the pages show (provider kinds, audit actions, roles,
  outcomes, eligibility rules, next steps, constraints, close reasons, development
  statuses, fields of a history entry).

Translations were written for this project with the Convention's own terms in each
language (Party: Partie, Parte, Сторона, الطرف, 缔约方; national focal point: correspondant
national, punto focal, национальный координационный центр, جهة الاتصال الوطنية, 国家联络点).
Taxonomy labels come from the taxonomy itself. ``tests/api/test_i18n.py`` checks that
every key a template or page uses exists in all six, translated.
"""

from __future__ import annotations

from types import ModuleType

from matcher.api.web.i18n import ar, en, es, fr, ru, zh

INTERFACE_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")
RTL: tuple[str, ...] = ("ar",)
_CATALOGUES: dict[str, ModuleType] = {"ar": ar, "zh": zh, "en": en, "fr": fr, "ru": ru, "es": es}

TEXT: dict[str, dict[str, str]] = {language: module.TEXT for language, module in _CATALOGUES.items()}
STATES: dict[str, dict[str, str]] = {language: module.STATES for language, module in _CATALOGUES.items()}
PARTS: dict[str, dict[str, str]] = {language: module.PARTS for language, module in _CATALOGUES.items()}
NAMES: dict[str, dict[str, dict[str, str]]] = {
    language: module.NAMES for language, module in _CATALOGUES.items()
}


def translator(language: str) -> dict[str, str]:
    """All interface strings in ``language``, English where a translation is missing (the
    tests keep that from happening)."""
    return {**TEXT["en"], **TEXT.get(language, {})}


def state_name(language: str, state: str) -> str:
    return STATES.get(language, STATES["en"]).get(state) or STATES["en"].get(state, state)


def part_name(language: str, part: str) -> str:
    return PARTS.get(language, PARTS["en"]).get(part) or PARTS["en"].get(part, part)


def name_of(language: str, kind: str, code: str | None) -> str:
    """The reader's word for ``code`` of ``kind`` (kind, action, role, outcome, constraint,
    close_reason, party_status, field), English where a translation is missing, the code
    itself if unknown."""
    if code is None:
        return "–"
    return NAMES.get(language, {}).get(kind, {}).get(code) or NAMES["en"].get(kind, {}).get(code, code)


def rule_text(language: str, rule: str, value: str) -> str:
    template = NAMES.get(language, {}).get("rule", {}).get(rule) or NAMES["en"]["rule"].get(rule, "{value}")
    return template.format(value=value)


def next_step_words(language: str, code: str, provider: str) -> str:
    template = NAMES.get(language, {}).get("next", {}).get(code) or NAMES["en"]["next"].get(code, "")
    return template.format(provider=provider)
