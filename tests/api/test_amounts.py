"""Amounts are read by the interface language's conventions and never silently
reinterpreted: ambiguous ones are refused with a question, unusual ones confirmed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from matcher.api.web.amounts import check_amount, format_amount, known_amount, read_amount


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [
        ("250.000", "es", Decimal(250000)),
        ("1.500.000", "es", Decimal(1500000)),
        ("1.500,50", "es", Decimal("1500.50")),
        ("250 000", "fr", Decimal(250000)),
        ("250\u202f000", "fr", Decimal(250000)),
        ("250\u00a0000", "ru", Decimal(250000)),
        ("250,000", "en", Decimal(250000)),
        ("USD 250,000", "en", Decimal(250000)),
        ("٢٥٠٬٠٠٠", "ar", Decimal(250000)),
        ("250000", "zh", Decimal(250000)),
    ],
)
def test_clear_amounts_in_the_readers_convention(text: str, language: str, value: Decimal) -> None:
    reading = read_amount(text, language)
    assert reading.problem is None and reading.value == value


@pytest.mark.parametrize(
    ("text", "language", "readings"),
    [
        ("1,500", "fr", (Decimal("1.5"), Decimal(1500))),
        ("1,500", "es", (Decimal("1.5"), Decimal(1500))),
        ("1.500", "en", (Decimal("1.5"), Decimal(1500))),
        ("1.500", "fr", (Decimal("1.5"), Decimal(1500))),
    ],
)
def test_ambiguous_amounts_are_a_question(text: str, language: str, readings: tuple[Decimal, ...]) -> None:
    reading = read_amount(text, language)
    assert reading.problem == "ambiguous" and reading.value is None and reading.readings == readings


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [
        ("1,5", "es", Decimal("1.5")),  # a strange budget in US dollars
        ("1,5 millones", "es", Decimal(1500000)),  # a scale word
        ("2 million", "en", Decimal(2000000)),
        ("150万", "zh", Decimal(1500000)),
        ("1,500.50", "es", Decimal("1500.50")),  # another language's convention
        ("1,500,000", "es", Decimal(1500000)),
    ],
)
def test_unusual_readings_need_confirmation(text: str, language: str, value: Decimal) -> None:
    reading = read_amount(text, language)
    assert reading.problem == "confirm" and reading.value == value


@pytest.mark.parametrize("text", ["abc", "-5", "1.2.3", "$", "12 monkeys", "1,50,0"])
def test_unreadable_amounts_are_refused(text: str) -> None:
    assert read_amount(text, "en").problem == "invalid"


def test_a_reading_is_saved_only_once_shown_and_an_unusual_one_once_confirmed() -> None:
    first = check_amount("budget_usd", "250.000", "es")
    assert first.status == "show" and first.blocks_saving and first.amount.canonical == "250000"
    assert check_amount("budget_usd", "250.000", "es", shown="250000").status == "ok"
    assert check_amount("budget_usd", "260.000", "es", shown="250000").status == "show"  # changed since
    unusual = check_amount("budget_usd", "1,5 millones", "es", shown="1500000")
    assert unusual.status == "confirm"
    assert check_amount("budget_usd", "1,5 millones", "es", confirmed="1500000").value == 1_500_000
    assert check_amount("budget_usd", "", "es").status == "empty"
    assert check_amount("budget_usd", "1,500", "fr").is_error
    stored = known_amount("budget_usd", 250000.0, "es")
    assert stored.status == "ok" and stored.amount.text == "250.000"


def test_amounts_are_written_back_the_readers_way() -> None:
    assert format_amount(1500000, "es") == "1.500.000"
    assert format_amount(1500000, "fr") == "1\u202f500\u202f000"
    assert format_amount(Decimal("1.5"), "en") == "1.50"
    assert format_amount(250000, "ar") == "250,000"
