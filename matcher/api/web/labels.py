"""Names instead of codes, in the reader's language: Parties, languages, dates and readable
history entries.

* Parties: the names stored with the parties list (English, French, Spanish, the UN's
  official short names) and, for Arabic, Chinese and Russian, the country names of the
  Unicode CLDR (through babel), found by mapping the ISO 3166 alpha-3 code to alpha-2 with
  CLDR's own territory aliases; the English name where neither exists.
* Languages: CLDR's name of each UN language in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.core import get_global

from matcher.api.web.amounts import format_amount
from matcher.api.web.i18n import name_of, state_name

# Names the database holds (the parties list has en, fr and es columns).
STORED_NAME_LANGUAGES = ("en", "fr", "es")


@lru_cache(maxsize=8)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@lru_cache(maxsize=512)
def territory_name(iso3: str, language: str) -> str | None:
    """CLDR's name of the country with ISO 3166 alpha-3 code ``iso3`` in ``language``."""
    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    alpha2 = next((code for code in aliases.get(iso3.upper(), []) if len(code) == 2), None)
    if alpha2 is None:
        return None
    name: str | None = _locale(language).territories.get(alpha2)
    return name


def party_name(names: Mapping[str, Mapping[str, str | None]], iso3: str, language: str) -> str:
    """A Party's name in ``language`` (see the module docstring); the code if unknown."""
    entry = names.get(iso3)
    if language in STORED_NAME_LANGUAGES and entry is not None and entry.get(language):
        return str(entry[language])
    found = territory_name(iso3, language)
    if found:
        return found
    if entry is not None and entry.get("en"):
        return str(entry["en"])
    return iso3


@lru_cache(maxsize=64)
def language_name(code: str | None, language: str) -> str:
    """The name of language ``code`` in ``language`` (``"ar"`` in French: ``"arabe"``)."""
    if not code:
        return "–"
    name: str | None = _locale(language).languages.get(code)
    return name or code


def format_date(value: Any) -> str:
    """A date or time as ISO 8601 (unambiguous in every language and script)."""
    if value is None:
        return "–"
    if hasattr(value, "strftime") and hasattr(value, "hour"):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


# ---------------------------------------------------------------------------- history


@dataclass
class Change:
    field: str
    before: str
    after: str


@dataclass
class HistoryRow:
    """One audit event as a reader sees it: when, who (label and role), what, the changed
    fields from → to, and why."""

    occurred_at: str
    who: str
    role: str
    what: str
    subject: str | None = None
    changes: list[Change] = field(default_factory=list)
    why: str | None = None


# Fields of a snapshot never shown as a change (internal or repeated elsewhere).
_HIDDEN = {"need_id", "offering_id", "score", "rank", "reject_reason", "close_reason", "reason", "text"}
_SHORT = 120


def history_rows(
    events: list[Any],
    *,
    language: str,
    actors: Mapping[str, Any],
    programmes: Mapping[str, str],
    officers: Mapping[str, str],
    label: Callable[[str, str], str],
    words: Mapping[str, str],
    show_changes: bool,
) -> list[HistoryRow]:
    """Audit events (``AuditEvent`` rows) as ``HistoryRow`` s in ``language``.

    ``actors`` maps an event's actor to a described actor (``label``, ``role``);
    ``programmes`` a proposal id to its programme's title; ``officers`` a key id to its
    label; ``label(family, code)`` names a taxonomy code; ``words`` is the interface text. ``show_changes`` is False for
    readers who see what happened but not the internal fields (a Party)."""
    rows = []
    for event in events:
        actor = actors.get(event.actor)
        role = name_of(language, "role", actor.role if actor is not None and actor.role else event.actor_role)
        who = actor.label if actor is not None and actor.label else ""
        before, after = event.before or {}, event.after or {}
        row = HistoryRow(
            occurred_at=format_date(event.occurred_at),
            who=who,
            role=role,
            what=name_of(language, "action", event.action),
            subject=programmes.get(event.entity_id or "") if event.entity_type == "match" else None,
            why=_why(event.action, before, after, language),
        )
        if show_changes:
            for name in _changed(before, after):
                row.changes.append(
                    Change(
                        field=name_of(language, "field", name),
                        before=_value(name, before.get(name), language, label, officers, words),
                        after=_value(name, after.get(name), language, label, officers, words),
                    )
                )
        rows.append(row)
    return rows


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    if not before:  # a creation: no "from", show nothing but the action
        return []
    names = [name for name in after if name not in _HIDDEN and before.get(name) != after.get(name)]
    return names


def _why(action: str, before: Mapping[str, Any], after: Mapping[str, Any], language: str) -> str | None:
    if action == "match.reject" and after.get("reject_reason"):
        return str(after["reject_reason"])
    if action == "match.undo" and before.get("reject_reason"):
        return str(before["reject_reason"])
    if action == "match.close" and after.get("close_reason"):
        return name_of(language, "close_reason", str(after["close_reason"]))
    if action == "need.withdraw" and after.get("reason"):
        return str(after["reason"])
    if action == "match.outcome" and after.get("outcome_note"):
        return str(after["outcome_note"])
    if action in ("case.note", "interest.create", "interest.update"):
        text = after.get("text") or after.get("note")
        return str(text) if isinstance(text, str) else None
    return None


def _value(
    name: str,
    value: Any,
    language: str,
    label: Callable[[str, str], str],
    officers: Mapping[str, str],
    words: Mapping[str, str],
) -> str:
    if value is None or value == [] or value == "":
        return "–"
    if name in ("state", "status"):
        return state_name(language, str(value))
    if name in ("sectors", "assistance_types") and isinstance(value, list):
        return ", ".join(label(name, str(code)) for code in value)
    if name == "language":
        return language_name(str(value), language)
    if name == "outcome":
        return name_of(language, "outcome", str(value))
    if name in ("budget_usd", "outcome_amount") and isinstance(value, int | float):
        return format_amount(value, language)
    if name == "officer":
        return officers.get(str(value), str(value))
    if isinstance(value, bool):
        return words["yes"] if value else words["no"]
    text = str(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"
