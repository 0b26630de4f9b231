"""Amounts as people type them, read by the conventions of the interface language (CLDR,
through babel), never silently reinterpreted.

``read_amount("250.000", "es")`` is 250,000 (a Spanish group separator); ``"1,5"`` in
Spanish is 1.5, a strange budget in US dollars, so it asks for confirmation; ``"1,500"`` in
French is 1.5 by French rules and 1,500 by English ones, so it is *ambiguous* and the form
asks which was meant; ``"1,5 millones"`` reads as 1,500,000 and asks for confirmation;
anything else with letters is refused. The forms show the reading back, formatted the way
the reader writes numbers, before anything is saved (``AmountField``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol

# Below this many US dollars a budget or a grant is more likely a misreading ("1,5" meant
# 1.5 million) than a real amount; above the upper bound, more likely an extra group.
PLAUSIBLE = (Decimal(1000), Decimal(10) ** 10)

# "1,5 millones", "2 million", "150万": a number and a scale word. Such readings are always
# shown back for confirmation (written only in figures is the unambiguous form).
SCALES: dict[str, Decimal] = {
    **dict.fromkeys(
        ("thousand", "k", "mille", "mil", "тыс", "тысяч", "тысячи", "тысяча", "ألف", "آلاف", "千"),
        Decimal(10) ** 3,
    ),
    **dict.fromkeys(
        (
            "million",
            "millions",
            "m",
            "mn",
            "mio",
            "millón",
            "millon",
            "millones",
            "миллион",
            "миллиона",
            "миллионов",
            "млн",
            "مليون",
            "ملايين",
            "百万",
        ),
        Decimal(10) ** 6,
    ),
    **dict.fromkeys(
        (
            "billion",
            "billions",
            "bn",
            "milliard",
            "milliards",
            "миллиард",
            "миллиарда",
            "миллиардов",
            "млрд",
            "مليار",
            "مليارات",
        ),
        Decimal(10) ** 9,
    ),
    "万": Decimal(10) ** 4,
    "亿": Decimal(10) ** 8,
}
_CURRENCY = re.compile(r"(?i)\b(?:usd|us\$|dollars?|dólares|dolares|долл(?:аров|ара)?|دولار)\b\.?|\$|美元")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009'’_]")
_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬", "01234567890123456789.,")
_NUMBER = re.compile(r"^[0-9.,]+$")
_WITH_SCALE = re.compile(r"^(?P<number>[0-9.,\s\u00a0\u202f]+?)\s*(?P<scale>[^\W\d_]+\.?)$")


@dataclass(frozen=True)
class Amount:
    """A reading of typed text. ``problem``: None (clear), ``"confirm"`` (a reading exists
    but must be confirmed: an unusual amount, another language's convention, a scale word),
    ``"ambiguous"`` (two readings: ``readings``) or ``"invalid"`` (no reading)."""

    text: str
    value: Decimal | None = None
    problem: str | None = None
    readings: tuple[Decimal, ...] = ()

    @property
    def canonical(self) -> str:
        """The reading as plain text (``"250000"``, ``"1.5"``), what a confirmation carries."""
        if self.value is None:
            return ""
        return (
            format(self.value.normalize(), "f")
            if self.value != self.value.to_integral()
            else str(int(self.value))
        )


def format_amount(value: Decimal | float | None, language: str) -> str:
    """An amount written the way ``language`` writes numbers (no currency)."""
    if value is None:
        return ""
    number = Decimal(str(value))
    pattern = "#,##0" if number == number.to_integral() else "#,##0.00"
    return format_decimal(number, format=pattern, locale=language)


def read_amount(text: str, language: str) -> Amount:
    """Read ``text`` by ``language``'s conventions (see the module docstring)."""
    typed = (text or "").strip()
    cleaned = _CURRENCY.sub(" ", typed.translate(_ARABIC_DIGITS)).strip()
    if not cleaned:
        return Amount(typed) if not typed else Amount(typed, problem="invalid")
    scaled = _WITH_SCALE.match(cleaned)
    if scaled and scaled.group("scale").lower().rstrip(".") in SCALES:
        base = _read_number(_SPACES.sub("", scaled.group("number")), language, typed)
        if base.value is None:
            return base
        value = base.value * SCALES[scaled.group("scale").lower().rstrip(".")]
        return Amount(typed, value, "confirm")
    number = _SPACES.sub("", cleaned)
    if not _NUMBER.match(number):
        return Amount(typed, problem="invalid")
    reading = _read_number(number, language, typed)
    if (
        reading.problem is None
        and reading.value is not None
        and not PLAUSIBLE[0] <= reading.value <= PLAUSIBLE[1]
    ):
        return Amount(typed, reading.value, "confirm")
    return reading


def _digits(text: str) -> Decimal:
    return Decimal(text)


def _grouped(parts: list[str]) -> bool:
    """``parts`` split at a group separator form valid groups: 1-3 digits, then threes."""
    return bool(parts[0]) and len(parts[0]) <= 3 and all(len(part) == 3 for part in parts[1:])


def _read_number(number: str, language: str, typed: str) -> Amount:
    decimal_mark = get_decimal_symbol(language)
    group_mark = get_group_symbol(language)  # a space in French and Russian: removed above
    if not number or not any(character.isdigit() for character in number):
        return Amount(typed, problem="invalid")
    marks = {mark for mark in ".," if mark in number}
    try:
        if not marks:
            return Amount(typed, _digits(number))
        if len(marks) == 2:
            last = max(".,", key=number.rfind)
            other = "," if last == "." else "."
            whole, fraction = number.rsplit(last, 1)
            if last in whole or not fraction or not _grouped(whole.split(other)):
                return Amount(typed, problem="invalid")
            value = _digits(whole.replace(other, "") + "." + fraction)
            # The reader's own convention is clear; another one is read and shown for confirmation.
            return Amount(typed, value, None if last == decimal_mark else "confirm")
        mark = marks.pop()
        parts = number.split(mark)
        if len(parts) > 2:
            if not _grouped(parts):
                return Amount(typed, problem="invalid")
            return Amount(typed, _digits("".join(parts)), None if mark == group_mark else "confirm")
        whole, fraction = parts
        if not whole and fraction:
            whole = "0"
        as_decimal = _digits(f"{whole}.{fraction}") if fraction else None
        as_group = _digits(whole + fraction) if _grouped(parts) else None
        if mark == decimal_mark:
            if as_group is not None and as_decimal is not None and whole != "0":
                return Amount(typed, problem="ambiguous", readings=(as_decimal, as_group))
            if as_decimal is None:
                return Amount(typed, problem="invalid")
            return Amount(typed, as_decimal)
        if mark == group_mark:
            if as_group is not None:
                return Amount(typed, as_group)
            return (
                Amount(typed, as_decimal, "confirm")
                if as_decimal is not None
                else Amount(typed, problem="invalid")
            )
        # A mark that is neither of the reader's (a point in French or Russian).
        if as_group is not None and as_decimal is not None:
            return Amount(typed, problem="ambiguous", readings=(as_decimal, as_group))
        if as_decimal is None:
            return Amount(typed, problem="invalid")
        return Amount(typed, as_decimal, "confirm")
    except InvalidOperation:
        return Amount(typed, problem="invalid")


@dataclass(frozen=True)
class AmountField:
    """One amount field of a form after a submission: what was typed, how it reads, and
    whether it may be saved. ``status``: ``empty``, ``ok`` (read, shown before and
    unchanged, or confirmed), ``show`` (read; show it back before saving), ``confirm``
    (read; needs the confirmation box), ``ambiguous`` or ``invalid`` (refused, with a question)."""

    name: str
    amount: Amount
    status: str

    @property
    def value(self) -> float | None:
        return float(self.amount.value) if self.amount.value is not None else None

    @property
    def blocks_saving(self) -> bool:
        return self.status not in ("empty", "ok")

    @property
    def is_error(self) -> bool:
        return self.status in ("ambiguous", "invalid")


def check_amount(name: str, text: str, language: str, *, shown: str = "", confirmed: str = "") -> AmountField:
    """Check a form's amount field. ``shown`` is the reading the form last showed back (a
    hidden field), ``confirmed`` the reading the reader ticked as right: a reading is saved
    only once it has been shown, and an unusual one only once it has been confirmed."""
    amount = read_amount(text, language)
    if amount.value is None and amount.problem is None:
        return AmountField(name, amount, "empty")
    if amount.problem in ("ambiguous", "invalid"):
        return AmountField(name, amount, amount.problem)
    if amount.problem == "confirm":
        return AmountField(name, amount, "ok" if confirmed == amount.canonical else "confirm")
    return AmountField(name, amount, "ok" if shown == amount.canonical else "show")


def known_amount(name: str, value: float | None, language: str) -> AmountField:
    """A stored amount, as a form shows it before any change (already seen and confirmed)."""
    if value is None:
        return AmountField(name, Amount(""), "empty")
    decimal = Decimal(str(value))
    return AmountField(name, Amount(format_amount(decimal, language), decimal), "ok")
