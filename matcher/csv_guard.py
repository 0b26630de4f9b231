"""Cells a spreadsheet would run: the CSV guard every CSV the product writes goes through.

A spreadsheet reads a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula, so a need titled ``=HYPERLINK(...)`` would become a live
link in the file staff open. The OWASP rule ("CSV Injection"): prefix such a cell with a
single quote, which spreadsheets show as text.

The interchange export must also load back exactly, so it uses the *reversible* form: a
cell that already begins with a quote gets one more. Then every guarded cell begins with
a quote, and ``unguard_cell`` (the interchange reader) removes exactly one:
``=x`` → ``'=x`` → ``=x``; ``'x`` → ``''x`` → ``'x``; ``x`` → ``x`` → ``x``.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def guard_cell(text: str, *, reversible: bool = False) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text. ``reversible``: also mark a
    leading quote, so that ``unguard_cell`` gives ``text`` back."""
    if text.startswith(FORMULA_TRIGGERS) or (reversible and text.startswith(GUARD)):
        return GUARD + text
    return text


def unguard_cell(cell: str) -> str:
    """The text of a cell written by ``guard_cell(..., reversible=True)``."""
    return cell[1:] if cell.startswith(GUARD) else cell
