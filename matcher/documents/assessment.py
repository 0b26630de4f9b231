"""The synthesis document of the needs assessment: HTML, PDF (headless Chromium's print to
PDF) and DOCX (python-docx), in the six UN languages (Arabic right to left).

``document_view`` turns the figures of ``services.assessment`` into one language-specific
view (sections of paragraphs, tables with totals, charts, queries) that both renderers read,
so the HTML/PDF and the DOCX always hold the same numbers. Numbers, amounts and dates are
formatted for the language by Babel; charts are drawn by matplotlib (Agg, PNG) and embedded.

Fonts: DejaVu Sans covers Latin, Cyrillic and Arabic; Chinese needs a CJK font (Debian's
``fonts-noto-cjk``) both for Chromium's PDF and for the charts' labels. Without it the Chinese
PDF and charts show empty boxes; nothing else fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from matcher.documents.text import DOCUMENT_LANGUAGES, RIGHT_TO_LEFT, document_text
from matcher.engine.challenges import default_challenge_reader
from matcher.services.access import Invalid, Principal, ServiceError
from matcher.services.assessment import NOT_DETERMINED, Assessment, Table, build_assessment
from matcher.taxonomy import load_taxonomy

logger = logging.getLogger(__name__)

FORMATS = ("pdf", "docx", "html")
TEMPLATES = Path(__file__).parent / "templates"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_SECONDS = 120
ACCENT = "#1f6f8b"
LIGHT = "#9bc3d1"
# The charts' fonts, in order: each glyph comes from the first that has it.
CHART_FONT = "DejaVu Sans"
CJK_FONT = "Noto Sans CJK SC"
CJK_FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf")


class DocumentError(RuntimeError):
    """The document could not be produced (no renderer, or the renderer failed)."""


# ---------------------------------------------------------------------------- formatting


@dataclass(frozen=True)
class Formats:
    language: str

    def number(self, value: float | int | None) -> str:
        if value is None:
            return "–"
        return format_decimal(value, locale=self.language)

    def share(self, part: float, whole: float) -> str:
        return self.percent(part / whole if whole else 0.0)

    def percent(self, value: float) -> str:
        pattern = Locale.parse(self.language).percent_formats[None].pattern.replace("#,##0", "#,##0.0", 1)
        return format_decimal(value, format=pattern, locale=self.language)

    def money(self, amount: float, currency: str | None) -> str:
        if not currency:
            return format_decimal(amount, format="#,##0.00", locale=self.language)
        return format_currency(amount, currency, locale=self.language)

    def date(self, value: Any) -> str:
        return format_date(value, format="long", locale=self.language)


# ---------------------------------------------------------------------------- view


@dataclass
class ViewTable:
    key: str
    caption: str
    headers: list[str]
    rows: list[list[str]]
    total: list[str] | None = None
    numeric: list[bool] = field(default_factory=list)


@dataclass
class ViewChart:
    key: str
    title: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class ViewQuery:
    caption: str
    sql: str
    rule: str | None = None


@dataclass
class Section:
    key: str
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def paragraph(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, table: ViewTable) -> None:
        self.blocks.append(("table", table))

    def chart(self, chart: ViewChart) -> None:
        self.blocks.append(("chart", chart))

    def query(self, query: ViewQuery) -> None:
        self.blocks.append(("query", query))


@dataclass
class DocumentView:
    language: str
    title: str
    subtitle: str
    period_line: str
    generated_line: str
    demo_line: str | None
    sections: list[Section]
    words: dict[str, str]

    @property
    def direction(self) -> str:
        """``rtl`` for Arabic, else ``ltr`` (the html ``dir`` and the DOCX paragraphs)."""
        return "rtl" if self.language in RIGHT_TO_LEFT else "ltr"


class _Labels:
    """Labels of codes in the document's language."""

    def __init__(self, language: str, words: dict[str, str]) -> None:
        self.language = language
        self.words = words
        self.taxonomy = load_taxonomy()
        self.kinds = default_challenge_reader().kinds

    def sector(self, code: str) -> str:
        entry = self.taxonomy.sectors.get(code)
        return entry.label_in(self.language) if entry else code

    def article(self, code: str) -> str:
        entry = self.taxonomy.sectors.get(code)
        return ", ".join(entry.articles) if entry else ""

    def assistance_type(self, code: str) -> str:
        entry = self.taxonomy.assistance_types.get(code)
        return entry.label_in(self.language) if entry else code

    def region(self, code: str) -> str:
        entry = self.taxonomy.regions.get(code)
        return entry.label_in(self.language) if entry else code

    def challenge(self, code: str | None) -> str:
        if code is None or code == NOT_DETERMINED:
            return self.words["not_determined"]
        kind = self.kinds.get(code)
        return kind.label_in(self.language) if kind else code

    def language_name(self, code: str | None) -> str:
        if code is None or code == NOT_DETERMINED:
            return self.words["not_determined"]
        return self.words.get(f"language_{code}", code)

    def word(self, prefix: str, code: Any) -> str:
        return self.words.get(f"{prefix}_{code}", str(code))


def document_view(assessment: Assessment, language: str) -> DocumentView:
    """The document's content in ``language`` (one of ``DOCUMENT_LANGUAGES``)."""
    if language not in DOCUMENT_LANGUAGES:
        raise DocumentError(f"no document text in {language!r}; available: {', '.join(DOCUMENT_LANGUAGES)}")
    words = document_text(language)
    f = Formats(language)
    labels = _Labels(language, words)
    tables = assessment.tables
    period = assessment.period
    if period.start is not None and period.end is not None:
        period_line = words["period_range"].format(start=f.date(period.start), end=f.date(period.end))
    else:
        period_line = words["period_all"].format(end=f.date(period.end))
    demo_count = sum(int(row[1]) for row in tables["demo"].rows if row[0])
    sections = [
        _sources_section(assessment, words, f, labels),
        _needs_section(assessment, words, f, labels),
        _vague_section(assessment, words, f, labels),
        _matching_section(assessment, words, f, labels),
        _unmet_section(assessment, words, f, labels),
        _change_section(assessment, words, f),
        _annex_section(assessment, words),
    ]
    return DocumentView(
        language=language,
        title=words["title"],
        subtitle=words["subtitle"],
        period_line=period_line,
        generated_line=words["generated"].format(
            date=f.date(assessment.generated_at.date()), dialect=assessment.dialect
        ),
        demo_line=words["demo_note"].format(count=f.number(demo_count)) if demo_count else None,
        sections=sections,
        words=words,
    )


def _simple_table(
    table: Table,
    words: dict[str, str],
    f: Formats,
    headers: Sequence[str],
    label: Callable[[Any], list[str]],
    *,
    total_label: str | None = None,
    share_of: int | None = None,
) -> ViewTable:
    """A table of (code, count[, more counts]) rows with its total, optionally a share column."""
    rows = []
    # With no rows the label's width is not known: one count column (and the share) assumed.
    label_columns = (
        len(label(table.rows[0][0])) if table.rows else len(headers) - 1 - (1 if share_of is not None else 0)
    )
    for row in table.rows:
        cells = label(row[0]) + [f.number(value) for value in row[1:]]
        if share_of is not None:
            cells.append(f.share(row[1], share_of))
        rows.append(cells)
    total = None
    if table.total is not None:
        total = [total_label or words["total"]] + [""] * (label_columns - 1) + [f.number(table.total)]
        count_columns = len(headers) - label_columns - 1 - (1 if share_of is not None else 0)
        total += [""] * count_columns + ([f.share(table.total, share_of)] if share_of is not None else [])
    numeric = [False] * label_columns + [True] * (len(headers) - label_columns)
    return ViewTable(table.key, words[f"t_{table.key}"], list(headers), rows, total, numeric)


def _sources_section(assessment: Assessment, words: dict[str, str], f: Formats, labels: _Labels) -> Section:
    tables = assessment.tables
    section = Section("sources", words["s_sources"])
    coverage = tables["coverage"]
    answering_ldc = sum(int(row[3] or 0) for row in coverage.rows)
    answering_sids = sum(int(row[4] or 0) for row in coverage.rows)
    section.paragraph(
        words["sources_intro"].format(
            statements=f.number(tables["sources"].total), parties=f.number(coverage.total)
        )
    )
    section.table(
        _simple_table(
            tables["sources"],
            words,
            f,
            [words["c_source"], words["c_statements"], words["c_parties"]],
            lambda code: [labels.word("source", code)],
        )
    )
    if tables["cycles"].rows:
        cycles = tables["cycles"]
        section.table(
            ViewTable(
                "cycles",
                words["t_cycles"],
                [words["c_source"], words["c_cycle"], words["c_statements"]],
                [[labels.word("source", row[0]), str(row[1]), f.number(row[2])] for row in cycles.rows],
                [words["total"], "", f.number(cycles.total)],
                [False, True, True],
            )
        )
    section.paragraph(
        words["coverage_intro"].format(
            ldc=f.number(answering_ldc),
            ldc_all=f.number(coverage.extra["ldc"]),
            sids=f.number(answering_sids),
            sids_all=f.number(coverage.extra["sids"]),
        )
    )
    rows = [
        [
            labels.region(row[0]),
            f.number(row[1]),
            f.number(row[2]),
            f.share(row[1], row[2]),
            f.number(row[3]),
            f.number(row[4]),
        ]
        for row in coverage.rows
    ]
    all_parties = coverage.extra["parties"]
    section.table(
        ViewTable(
            "coverage",
            words["t_coverage"],
            [
                words["c_region"],
                words["c_answering"],
                words["c_parties_in_region"],
                words["c_coverage"],
                words["c_ldc"],
                words["c_sids"],
            ],
            rows,
            [
                words["total"],
                f.number(coverage.total),
                f.number(all_parties),
                f.share(coverage.total or 0, all_parties),
                f.number(answering_ldc),
                f.number(answering_sids),
            ],
            [False, True, True, True, True, True],
        )
    )
    section.chart(
        ViewChart(
            "coverage",
            words["chart_coverage"],
            _paired_bars(
                [labels.region(row[0]) for row in coverage.rows],
                [int(row[1]) for row in coverage.rows],
                [int(row[2]) for row in coverage.rows],
                words["legend_answering"],
                words["legend_parties"],
                f,
            ),
        )
    )
    return section


def _needs_section(assessment: Assessment, words: dict[str, str], f: Formats, labels: _Labels) -> Section:
    tables = assessment.tables
    section = Section("needs", words["s_needs"])
    statements = tables["sources"].total or 0
    section.paragraph(words["needs_intro"])
    by_sector = tables["by_sector"]
    section.table(
        _simple_table(
            by_sector,
            words,
            f,
            [words["c_sector"], words["c_article"], words["c_statements"], words["c_share"]],
            lambda code: [labels.sector(code), labels.article(code)],
            total_label=words["total_statements"],
            share_of=statements,
        )
    )
    section.chart(
        ViewChart(
            "sectors",
            words["chart_sectors"],
            _bars(
                [labels.sector(row[0]) for row in by_sector.rows], [int(row[1]) for row in by_sector.rows], f
            ),
        )
    )
    section.table(
        _simple_table(
            tables["by_type"],
            words,
            f,
            [words["c_assistance_type"], words["c_statements"], words["c_share"]],
            lambda code: [labels.assistance_type(code)],
            total_label=words["total_statements"],
            share_of=statements,
        )
    )
    challenge = tables["by_challenge"]
    section.table(
        _simple_table(
            challenge,
            words,
            f,
            [words["c_challenge_kind"], words["c_statements"], words["c_vague"]],
            lambda code: [labels.challenge(code)],
        )
    )
    section.chart(
        ViewChart(
            "challenges",
            words["chart_challenges"],
            _stacked_bars(
                [labels.challenge(row[0]) for row in challenge.rows],
                [int(row[1]) - int(row[2] or 0) for row in challenge.rows],
                [int(row[2] or 0) for row in challenge.rows],
                words["legend_specific"],
                words["legend_vague"],
                f,
            ),
        )
    )
    section.table(
        _simple_table(
            tables["by_region"],
            words,
            f,
            [words["c_region"], words["c_statements"], words["c_share"]],
            lambda code: [labels.region(code)],
            share_of=statements,
        )
    )
    section.table(
        _simple_table(
            tables["by_language"],
            words,
            f,
            [words["c_language"], words["c_statements"], words["c_share"]],
            lambda code: [labels.language_name(code)],
            share_of=statements,
        )
    )
    return section


def _vague_section(assessment: Assessment, words: dict[str, str], f: Formats, labels: _Labels) -> Section:
    tables = assessment.tables
    section = Section("vague", words["s_vague"])
    vagueness = tables["vagueness"]
    vague = sum(int(row[2] or 0) for row in vagueness.rows)
    total = vagueness.total or 0
    section.paragraph(
        words["vague_intro"].format(
            vague=f.number(vague), statements=f.number(total), share=f.share(vague, total)
        )
    )
    rows = [
        [
            labels.word("source", row[0]),
            f.number(row[1]),
            f.number(row[2] or 0),
            f.share(int(row[2] or 0), int(row[1])),
        ]
        for row in vagueness.rows
    ]
    section.table(
        ViewTable(
            "vagueness",
            words["t_vagueness"],
            [words["c_source"], words["c_statements"], words["c_vague"], words["c_share"]],
            rows,
            [words["total"], f.number(total), f.number(vague), f.share(vague, total)],
            [False, True, True, True],
        )
    )
    coached = tables["coached"]
    filed, specific = coached.value("filed_vague"), coached.value("became_specific")
    section.paragraph(words["coached_intro"].format(filed=f.number(filed), specific=f.number(specific)))
    section.table(
        ViewTable(
            "coached",
            words["t_coached"],
            [words["c_measure"], words["c_needs"]],
            [[labels.word("measure", key), f.number(value)] for key, value in coached.rows],
            None,
            [False, True],
        )
    )
    return section


def _matching_section(assessment: Assessment, words: dict[str, str], f: Formats, labels: _Labels) -> Section:
    tables = assessment.tables
    section = Section("matching", words["s_matching"])
    steps = dict(tables["steps"].rows)
    section.paragraph(
        words["matching_intro"].format(
            proposals=f.number(steps["proposed"]),
            accepted=f.number(steps["accepted"]),
            introduced=f.number(steps["introduced"]),
        )
    )
    section.table(
        ViewTable(
            "steps",
            words["t_steps"],
            [words["c_step"], words["c_proposals"]],
            [[labels.word("step", step), f.number(count)] for step, count in tables["steps"].rows],
            None,
            [False, True],
        )
    )
    section.chart(
        ViewChart(
            "funnel",
            words["chart_funnel"],
            _bars(
                [labels.word("step", step) for step in ("proposed", "accepted", "introduced", "funded")],
                [int(steps[step]) for step in ("proposed", "accepted", "introduced", "funded")],
                f,
                keep_order=True,
            ),
        )
    )
    section.table(
        _simple_table(
            tables["proposals"],
            words,
            f,
            [words["c_state"], words["c_proposals"]],
            lambda code: [labels.word("state", code)],
        )
    )
    section.table(
        _simple_table(
            tables["outcomes"],
            words,
            f,
            [words["c_outcome"], words["c_proposals"]],
            lambda code: [labels.word("outcome", code)],
        )
    )
    mobilised = tables["mobilised"]
    if mobilised.rows:
        section.paragraph(words["mobilised_intro"])
        section.table(
            ViewTable(
                "mobilised",
                words["t_mobilised"],
                [words["c_currency"], words["c_proposals"], words["c_amount"]],
                [[str(row[0]), f.number(row[1]), f.money(float(row[2]), row[0])] for row in mobilised.rows],
                [words["total"], f.number(mobilised.total), ""],
                [False, True, True],
            )
        )
    else:
        section.paragraph(words["mobilised_none"])
    return section


def _unmet_section(assessment: Assessment, words: dict[str, str], f: Formats, labels: _Labels) -> Section:
    tables = assessment.tables
    section = Section("unmet", words["s_unmet"])
    unmet = tables["unmet"]
    section.paragraph(
        words["unmet_intro"].format(
            open=f.number(unmet.extra["open"]),
            unmet=f.number(unmet.total),
            threshold=f.number(unmet.extra["threshold"]),
            after_days=f.number(unmet.extra["after_days"]),
        )
    )
    section.table(
        ViewTable(
            "unmet",
            words["t_unmet"],
            [words["c_reason"], words["c_needs"]],
            [[labels.word("reason", key), f.number(value)] for key, value in unmet.rows],
            [words["total"], f.number(unmet.total)],
            [False, True],
        )
    )
    supply = tables["supply"]
    regions = list(dict.fromkeys(row[1] for row in supply.rows))
    sectors = list(dict.fromkeys(row[0] for row in supply.rows))
    cells = {(row[0], row[1]): (int(row[2]), int(row[3])) for row in supply.rows}
    section.paragraph(words["supply_intro"])
    rows = []
    for sector in sectors:
        line = [labels.sector(sector)]
        for region in regions:
            programmes, asked = cells[(sector, region)]
            text = f.number(programmes) if programmes else words["gap"]
            line.append(f"{text} ({f.number(asked)})")
        rows.append(line)
    section.table(
        ViewTable(
            "supply",
            words["t_supply"],
            [words["c_sector"], *(labels.region(region) for region in regions)],
            rows,
            None,
            [False] + [True] * len(regions),
        )
    )
    section.paragraph(words["supply_gaps"].format(gaps=f.number(supply.total)))
    with_demand = [
        f"{labels.sector(sector)} × {labels.region(region)} ({f.number(asked)})"
        for (sector, region), (programmes, asked) in cells.items()
        if programmes == 0 and asked > 0
    ]
    if with_demand:
        section.paragraph(words["supply_gaps_demand"] + " " + "; ".join(with_demand) + ".")
    section.chart(
        ViewChart(
            "supply",
            words["chart_supply"],
            _heat_map(
                [labels.sector(sector) for sector in sectors],
                [labels.region(region) for region in regions],
                [[cells[(sector, region)][0] for region in regions] for sector in sectors],
                f,
            ),
        )
    )
    return section


def _change_section(assessment: Assessment, words: dict[str, str], f: Formats) -> Section:
    section = Section("change", words["s_change"])
    previous = assessment.previous
    if previous is None or previous.start is None or previous.end is None:
        section.paragraph(words["change_none"])
        rows = [
            [words[f"measure_{name}"], "–", _format_measure(name, now, f), "–"]
            for name, _, now in assessment.change
        ]
    else:
        days = (previous.end - previous.start).days + 1
        section.paragraph(
            words["change_intro"].format(
                days=f.number(days), start=f.date(previous.start), end=f.date(previous.end)
            )
        )
        rows = []
        for name, before, now in assessment.change:
            assert before is not None
            if name == "vague_share":
                difference = format_decimal(
                    (now - before) * 100, format="+#,##0.0;-#,##0.0", locale=f.language
                )
            else:
                difference = format_decimal(now - before, format="+#,##0;-#,##0", locale=f.language)
            rows.append(
                [
                    words[f"measure_{name}"],
                    _format_measure(name, before, f),
                    _format_measure(name, now, f),
                    difference,
                ]
            )
    section.table(
        ViewTable(
            "change",
            words["t_change"],
            [words["c_measure"], words["c_previous"], words["c_current"], words["c_change"]],
            rows,
            None,
            [False, True, True, True],
        )
    )
    return section


def _format_measure(name: str, value: float, f: Formats) -> str:
    return f.percent(value) if name == "vague_share" else f.number(int(value))


def _annex_section(assessment: Assessment, words: dict[str, str]) -> Section:
    section = Section("annex", words["s_annex"])
    section.paragraph(words["annex_intro"].format(dialect=assessment.dialect))
    for key in ("def_statement", "def_challenge", "def_vague", "rule_supply"):
        section.paragraph(words[key])
    section.query(ViewQuery(words["statements_query"], assessment.statements_query))
    number = 2
    for key, table in assessment.tables.items():
        caption = f"A.{number} {words.get(f't_{key}', key)}"
        number += 1
        sql = table.query
        if table.total_query and table.total_query != table.query:
            sql += f";\n\n-- {words['total_query']}\n" + table.total_query
        if key == "coverage":
            sql += ";\n\n" + str(table.extra.get("group_query", ""))
        section.query(ViewQuery(caption, sql, words[table.rule] if table.rule else None))
    return section


# ---------------------------------------------------------------------------- charts


@functools.cache
def chart_fonts() -> tuple[str, ...]:
    """The font families of the charts' labels: DejaVu Sans (Latin, Cyrillic, Arabic, shaped
    and right to left by matplotlib's text layout), then a CJK font for Chinese when one is
    installed (registered with matplotlib once, since its font cache may predate the font)."""
    from matplotlib import font_manager

    if CJK_FONT not in {entry.name for entry in font_manager.fontManager.ttflist}:
        for path in font_manager.findSystemFonts():
            if Path(path).name in CJK_FONT_FILES:
                font_manager.fontManager.addfont(path)
                break
        else:
            return (CHART_FONT,)
    return (CHART_FONT, CJK_FONT)


def _legend(axes: Any) -> None:
    axes.legend(
        prop={"family": list(chart_fonts()), "size": 8},
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
        frameon=False,
    )


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.2, height), dpi=150)
    return figure


def _png(figure: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _bars(labels: list[str], values: list[int], f: Formats, *, keep_order: bool = False) -> bytes:
    pairs = list(zip(labels, values, strict=True))
    if not keep_order:
        pairs.sort(key=lambda pair: pair[1])
    else:
        pairs.reverse()
    figure = _figure(0.35 * max(len(pairs), 3) + 0.6)
    axes = figure.add_subplot()
    names = [name for name, _ in pairs]
    counts = [count for _, count in pairs]
    axes.barh(names, counts, color=ACCENT)
    top = max(counts, default=0) or 1
    for position, count in enumerate(counts):
        axes.text(count + top * 0.01, position, f.number(count), va="center", fontsize=8)
    axes.set_xlim(0, top * 1.15)
    axes.tick_params(labelsize=8, labelfontfamily=list(chart_fonts()))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def _stacked_bars(
    labels: list[str], first: list[int], second: list[int], one: str, two: str, f: Formats
) -> bytes:
    figure = _figure(0.4 * max(len(labels), 3) + 0.8)
    axes = figure.add_subplot()
    axes.barh(labels, first, color=ACCENT, label=one)
    axes.barh(labels, second, left=first, color=LIGHT, label=two)
    top = max((a + b for a, b in zip(first, second, strict=True)), default=0) or 1
    for position, (a, b) in enumerate(zip(first, second, strict=True)):
        axes.text(a + b + top * 0.01, position, f.number(a + b), va="center", fontsize=8)
    axes.set_xlim(0, top * 1.15)
    _legend(axes)
    axes.tick_params(labelsize=8, labelfontfamily=list(chart_fonts()))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def _paired_bars(
    labels: list[str], first: list[int], second: list[int], one: str, two: str, f: Formats
) -> bytes:
    figure = _figure(0.5 * max(len(labels), 3) + 0.8)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.barh([p + 0.2 for p in positions], second, height=0.4, color=LIGHT, label=two)
    axes.barh([p - 0.2 for p in positions], first, height=0.4, color=ACCENT, label=one)
    top = max(second + first, default=0) or 1
    for position, (a, b) in enumerate(zip(first, second, strict=True)):
        axes.text(a + top * 0.01, position - 0.2, f.number(a), va="center", fontsize=7)
        axes.text(b + top * 0.01, position + 0.2, f.number(b), va="center", fontsize=7)
    axes.set_yticks(positions, labels)
    axes.set_xlim(0, top * 1.15)
    _legend(axes)
    axes.tick_params(labelsize=8, labelfontfamily=list(chart_fonts()))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def _heat_map(rows: list[str], columns: list[str], values: list[list[int]], f: Formats) -> bytes:
    figure = _figure(0.32 * max(len(rows), 3) + 1.4)
    axes = figure.add_subplot()
    peak = max((value for line in values for value in line), default=0) or 1
    axes.imshow(values, cmap="Blues", vmin=0, vmax=peak, aspect="auto")
    for i, line in enumerate(values):
        for j, value in enumerate(line):
            colour = "#b00020" if value == 0 else ("white" if value > peak / 2 else "black")
            axes.text(j, i, f.number(value), ha="center", va="center", fontsize=7, color=colour)
    axes.set_xticks(range(len(columns)), columns, fontsize=7, rotation=20, ha="right")
    axes.set_yticks(range(len(rows)), rows, fontsize=7)
    axes.tick_params(labelfontfamily=list(chart_fonts()))
    return _png(figure)


# ---------------------------------------------------------------------------- renderers


def render_html(view: DocumentView) -> str:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return environment.get_template("assessment.html").render(view=view)


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable: ``explicit`` if given, else the first of the usual names on PATH."""
    for candidate in [explicit] if explicit else list(CHROMIUM_NAMES):
        found = shutil.which(candidate)
        if found:
            return found
    raise DocumentError(
        "no Chromium found to print the PDF: install Debian's chromium package "
        "(apt-get install chromium), or choose --format docx or html"
    )


def render_pdf(view: DocumentView, *, chromium: str | None = None) -> bytes:
    """The document printed to PDF by headless Chromium (A4, the template's print CSS)."""
    browser = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="matcher-assessment-") as scratch:
        folder = Path(scratch)
        page = folder / "assessment.html"
        page.write_text(render_html(view), encoding="utf-8")
        out = folder / "assessment.pdf"
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={folder / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired as error:
            raise DocumentError(f"Chromium did not print the PDF within {PDF_TIMEOUT_SECONDS} s") from error
        if not out.exists() or out.stat().st_size == 0:
            detail = done.stderr.decode("utf-8", "replace")[-800:]
            raise DocumentError(f"Chromium printed no PDF (exit {done.returncode}): {detail}")
        return out.read_bytes()


def render_docx(view: DocumentView) -> bytes:
    """The document as a Word file: headings, paragraphs, tables with their totals, the charts."""
    from docx import Document
    from docx.shared import Cm, Pt

    document = Document()
    code_paragraphs: list[Any] = []
    document.core_properties.title = view.title
    document.core_properties.language = view.language
    document.add_heading(view.title, level=0)
    document.add_paragraph(view.subtitle)
    document.add_paragraph(view.period_line)
    document.add_paragraph(view.generated_line)
    if view.demo_line:
        document.add_paragraph(view.demo_line)
    for section in view.sections:
        document.add_heading(section.title, level=1)
        for kind, block in section.blocks:
            if kind == "p":
                document.add_paragraph(block)
            elif kind == "chart":
                document.add_paragraph(block.title)
                document.add_picture(io.BytesIO(block.png), width=Cm(16))
            elif kind == "table":
                document.add_paragraph(block.caption).runs[0].bold = True
                lines = [block.headers, *block.rows] + ([block.total] if block.total else [])
                grid = document.add_table(rows=len(lines), cols=len(block.headers))
                grid.style = "Table Grid"
                for i, line in enumerate(lines):
                    for j, text in enumerate(line):
                        grid.cell(i, j).text = text
                        if i == 0 or (block.total and i == len(lines) - 1):
                            for run in grid.cell(i, j).paragraphs[0].runs:
                                run.bold = True
            elif kind == "query":
                document.add_paragraph(block.caption).runs[0].bold = True
                if block.rule:
                    document.add_paragraph(block.rule)
                code = document.add_paragraph()
                run = code.add_run(block.sql)
                run.font.name = "Courier New"
                run.font.size = Pt(7)
                code_paragraphs.append(code._p)
    if view.direction == "rtl":
        _right_to_left(document, keep_left_to_right=code_paragraphs)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# Elements that follow w:bidi in a paragraph's properties and w:bidiVisual in a table's
# (the order the WordprocessingML schema requires).
_AFTER_BIDI = (
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)
_AFTER_BIDI_VISUAL = (
    "w:tblStyleRowBandSize",
    "w:tblStyleColBandSize",
    "w:tblW",
    "w:jc",
    "w:tblCellSpacing",
    "w:tblInd",
    "w:tblBorders",
    "w:shd",
    "w:tblLayout",
    "w:tblCellMar",
    "w:tblLook",
    "w:tblCaption",
    "w:tblDescription",
    "w:tblPrChange",
)


def _right_to_left(document: Any, *, keep_left_to_right: Sequence[Any]) -> None:
    """Every paragraph right to left (``w:bidi``: the paragraph's base direction; Word orders
    the Arabic and the Latin inside it by the Unicode bidirectional algorithm), tables with
    their first column on the right (``w:bidiVisual``); the SQL of the annex stays left to right."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    kept = set(keep_left_to_right)
    body = document.element.body
    for paragraph in body.iter(qn("w:p")):
        if paragraph in kept:
            continue
        properties = paragraph.get_or_add_pPr()
        if properties.find(qn("w:bidi")) is None:
            properties.insert_element_before(OxmlElement("w:bidi"), *_AFTER_BIDI)
    for table in body.iter(qn("w:tbl")):
        properties = table.tblPr
        if properties.find(qn("w:bidiVisual")) is None:
            properties.insert_element_before(OxmlElement("w:bidiVisual"), *_AFTER_BIDI_VISUAL)


def render(view: DocumentView, file_format: str, *, chromium: str | None = None) -> bytes:
    """The document in ``file_format`` (pdf, docx or html) as bytes."""
    if file_format == "pdf":
        return render_pdf(view, chromium=chromium)
    if file_format == "docx":
        return render_docx(view)
    if file_format == "html":
        return render_html(view).encode("utf-8")
    raise DocumentError(f"unknown format {file_format!r}; use one of {', '.join(FORMATS)}")


class DocumentUnavailable(ServiceError):
    """The document cannot be produced here (e.g. no Chromium for the PDF)."""

    status, code = 503, "unavailable"


@dataclass(frozen=True)
class Produced:
    content: bytes
    media_type: str
    filename: str


def produce(
    session: Session,
    principal: Principal,
    *,
    start: dt.date | None,
    end: dt.date | None,
    language: str,
    file_format: str,
    unmet_threshold: float,
    unmet_after_days: int,
) -> Produced:
    """The document for a download (the API and the workbench): built, rendered, named."""
    if start and end and start > end:
        raise Invalid("the period starts after it ends", [{"loc": "query.from", "message": "after 'to'"}])
    assessment = build_assessment(
        session,
        principal,
        start=start,
        end=end,
        unmet_threshold=unmet_threshold,
        unmet_after_days=unmet_after_days,
    )
    try:
        content = render(document_view(assessment, language), file_format)
    except DocumentError as problem:
        raise DocumentUnavailable(str(problem)) from problem
    day = assessment.period.end.isoformat() if assessment.period.end else "all"
    return Produced(content, MEDIA_TYPES[file_format], f"needs-assessment-{day}-{language}.{file_format}")


MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8",
}
