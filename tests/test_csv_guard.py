"""The CSV guard: cells a spreadsheet would run as a formula are neutralised (the OWASP
rule), and the interchange form of the guard is reversed exactly by its reader."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from matcher.csv_guard import guard_cell, unguard_cell

# OWASP, "CSV Injection": cells beginning with these are read as formulas.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def test_cells_starting_with_a_formula_trigger_get_a_single_quote() -> None:
    for trigger in TRIGGERS:
        for cell in (trigger, f'{trigger}HYPERLINK("http://evil.example","x")', f"{trigger}1+1"):
            assert guard_cell(cell) == "'" + cell, repr(cell)


def test_other_cells_are_left_as_they_are() -> None:
    for cell in (
        "",
        "Mercury waste",
        "1+1",
        "need-1",
        " =x",
        "'quoted",
        "\n=x",
        "2026-01-01",
        "0.5",
        "é=",
        "＝x",
    ):
        assert guard_cell(cell) == cell, repr(cell)


def test_every_trigger_and_only_those_are_guarded() -> None:
    guarded = {chr(code) for code in range(0x80) if guard_cell(chr(code) + "x") != chr(code) + "x"}
    assert guarded == set(TRIGGERS)


def test_the_reversible_form_also_marks_a_leading_quote() -> None:
    assert guard_cell("'quoted", reversible=True) == "''quoted"
    assert guard_cell("=x", reversible=True) == "'=x"
    assert guard_cell("plain", reversible=True) == "plain"
    assert unguard_cell("''quoted") == "'quoted" and unguard_cell("'=x") == "=x" and unguard_cell("x") == "x"


HAND_CASES = [
    "",
    "'",
    "''",
    "'''x",
    "=",
    "'=",
    "''=",
    "=1+2",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "'\t",
    "a'",
    "-5",
    "@@",
    "'-",
]


def test_round_trip_of_hand_cases() -> None:
    for cell in HAND_CASES:
        assert unguard_cell(guard_cell(cell, reversible=True)) == cell, repr(cell)


@given(st.text())
def test_round_trip_of_any_text(cell: str) -> None:
    guarded = guard_cell(cell, reversible=True)
    assert unguard_cell(guarded) == cell
    assert not guarded.startswith(TRIGGERS)
