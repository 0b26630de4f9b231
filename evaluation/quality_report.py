"""Write the quality report (``quality.md``) and its chart (``quality.png``) for one run."""

from __future__ import annotations

import datetime as dt
import math
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.metrics import METRICS, paired_bootstrap
from evaluation.quality import (
    LEARNED,
    SHIPPED,
    SHIPPED_HISTORY,
    SHIPPED_SERVED_ONLY,
    SHIPPED_UNFOLDED,
    QualityRun,
    by_language,
    english_ratio,
    has_system,
    intervals,
    summary,
    tagger_scores,
)
from matcher.engine.learning import Comparison, should_promote
from matcher.engine.text.tagging import KeywordTagger
from matcher.engine.understanding import RequestReader
from matcher.taxonomy import load_taxonomy

BASELINE_FOR_LANGUAGES = ("BM25", "quick hybrid", SHIPPED)
# Targets of the evaluation issue, as ratios measured in one run.
TARGETS = (
    ("nDCG@10", "≥ 0.75"),
    ("nDCG@10 vs BM25", "≥ 1.7×"),
    ("nDCG@10 vs quick hybrid", "≥ 1.1×"),
    ("non-English vs English nDCG@10", "≥ 0.9×"),
    ("Recall@10 of grade-2", "≥ 0.85"),
)


def _number(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def vague_scores(run: QualityRun) -> dict[str, float]:
    """Precision and recall of the vague check against the set's labels (never an input)."""
    reader = RequestReader()
    flagged = {need.id for need in run.data.needs if reader.assess(need).vague}
    labelled = {need_id for need_id, vague in run.data.vague.items() if vague}
    hits = len(flagged & labelled)
    return {
        "flagged": float(len(flagged)),
        "labelled": float(len(labelled)),
        "precision": hits / len(flagged) if flagged else float("nan"),
        "recall": hits / len(labelled) if labelled else float("nan"),
    }


def by_sector(run: QualityRun, system_name: str) -> dict[str, tuple[int, float]]:
    """nDCG@10 per sector; a need counts under its stated sectors, or its inferred ones."""
    tagger = KeywordTagger(load_taxonomy())
    system = run.system(system_name)
    groups: dict[str, list[str]] = {}
    for need in run.data.judged_needs:
        sectors = need.sectors or tagger.tag(need.text, need.language).codes("sectors")
        for sector in sectors or ("(none)",):
            groups.setdefault(sector, []).append(need.id)
    return {sector: (len(ids), system.metric("ndcg@10", ids)) for sector, ids in sorted(groups.items())}


def targets(run: QualityRun, system: str = SHIPPED) -> list[tuple[str, str, float, bool]]:
    table = summary(run)
    shipped = table[system]["ndcg@10"]
    values = [
        shipped,
        shipped / table["BM25"]["ndcg@10"],
        shipped / table["quick hybrid"]["ndcg@10"],
        english_ratio(run, run.system(system)),
        table[system]["recall2@10"],
    ]
    thresholds = [0.75, 1.7, 1.1, 0.9, 0.85]
    return [
        (name, goal, value, value >= threshold)
        for (name, goal), value, threshold in zip(TARGETS, values, thresholds, strict=True)
    ]


def missed_grade_two(run: QualityRun, top: int = 6) -> list[tuple[str, int]]:
    """The grade-2 offerings the shipped pipeline most often leaves out of its top 10."""
    counts: dict[str, int] = {}
    shipped = run.system(SHIPPED)
    for need_id, ranked in shipped.rankings.items():
        for offering_id, grade in run.data.qrels[need_id].items():
            if grade == 2 and offering_id not in ranked[:10]:
                counts[offering_id] = counts.get(offering_id, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def _why_missed(run: QualityRun, cis: dict[str, tuple[float, float, float]]) -> list[str]:
    lines: list[str] = []
    for name, _, value, met in targets(run):
        if met:
            continue
        if name == "nDCG@10":
            rows = run.system(SHIPPED).scores.values()
            scores = [row["ndcg@10"] for row in rows if row["ndcg@10"] is not None]
            # Paired against zero, the bootstrap of a difference is the bootstrap of the mean.
            _, low, high = paired_bootstrap(scores, [0.0] * len(scores))
            lines.append(
                f"- **{name} missed** ({value:.3f}; 95% interval of the mean over these needs "
                f"[{low:.3f}, {high:.3f}])."
            )
        elif name == "nDCG@10 vs quick hybrid":
            diff, low, high = cis["quick hybrid"]
            verdict = "includes" if low <= 0 <= high else "excludes"
            lines.append(
                f"- **{name} missed** ({value:.3f}): shipped is {diff:+.3f} nDCG@10 above the quick hybrid, "
                f"and the 95% interval [{low:+.3f}, {high:+.3f}] {verdict} zero on this set."
            )
        elif name == "Recall@10 of grade-2":
            missed = ", ".join(f"{offering} ({count}×)" for offering, count in missed_grade_two(run))
            lines.append(
                f"- **{name} missed** ({value:.3f}): grade-2 offerings most often outside the top 10: {missed}."
            )
        else:
            lines.append(f"- **{name} missed** ({value:.3f}).")
    return lines


def history_section(run: QualityRun, sources: dict[str, str]) -> list[str]:
    """Targets with history beside the plain run, what each part adds, and the learned
    re-ranker's held-out comparison with the hand-set weights."""
    table = summary(run)
    plain, with_history = targets(run, SHIPPED), targets(run, SHIPPED_HISTORY)
    lines = [
        "## With history",
        "",
        f"History: `{sources.get('history', '?')}` ({run.extras.get('history_records', 0)} past needs); "
        f"case groups: `{sources.get('groups', '?')}`. A need is ranked with the history minus the records "
        "of its own case group: needs of the history are evaluated leave-group-out (near-twins of one "
        "project never explain each other), other needs see the whole history.",
        "",
    ]
    lines += _table(
        ["target", "goal", SHIPPED, SHIPPED_HISTORY, "met with history"],
        [
            (name, goal, f"{before:.3f}", f"{after:.3f}", "yes" if met else "**no**")
            for (name, goal, before, _), (_, _, after, met) in zip(plain, with_history, strict=True)
        ],
    )
    lines += ["", "What each part adds (paired bootstrap of the difference, 95%):", ""]
    steps = [
        (SHIPPED, SHIPPED_UNFOLDED),
        (SHIPPED_SERVED_ONLY, SHIPPED),
        (SHIPPED_HISTORY, SHIPPED_SERVED_ONLY),
        (SHIPPED_HISTORY, SHIPPED),
        (LEARNED, SHIPPED_HISTORY),
    ]
    rows = []
    for after, before in steps:
        first, second = run.system(after), run.system(before)
        ids = [i for i in first.scores if first.scores[i]["ndcg@10"] is not None]
        diff, low, high = paired_bootstrap(
            [first.scores[i]["ndcg@10"] for i in ids],  # type: ignore[misc]
            [second.scores[i]["ndcg@10"] for i in ids],  # type: ignore[misc]
        )
        rows.append(
            (
                f"{after} vs {before}",
                _number(table[after]["ndcg@10"]),
                _number(table[after]["recall2@10"]),
                f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]",
            )
        )
    lines += _table(["step", "nDCG@10", "Recall@10 grade 2", "difference, nDCG@10 (95% CI)"], rows)
    comparison = run.extras.get("learned")
    if isinstance(comparison, Comparison):
        promote, reason = should_promote(comparison)
        summary_of = comparison.as_dict()
        lines += [
            "",
            "Learned re-ranker, as `matcher model train` judges it (logistic regression over the score "
            "components, trained leaving case groups out; held-out nDCG@10 with the history's delivered "
            f"offerings as relevant): model {_number(summary_of['model_ndcg10'])}, hand-set "
            f"{_number(summary_of['hand_ndcg10'])} over {summary_of['needs']} needs in "
            f"{summary_of['groups']} groups. Verdict: **{'promoted' if promote else 'refused'}** ({reason}).",
        ]
    return lines


def write_chart(run: QualityRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summary(run)
    names = list(table)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    values = [table[name]["ndcg@10"] for name in names]
    colours = ["#1f6f8b" if name == SHIPPED else "#9bb7c4" for name in names]
    left.barh(names[::-1], values[::-1], color=colours[::-1])
    for position, value in enumerate(values[::-1]):
        left.text(value + 0.01, position, f"{value:.3f}", va="center", fontsize=8)
    left.set_xlim(0, 1)
    left.set_xlabel("nDCG@10")
    left.set_title("Systems (one run)")

    languages = sorted({need.language or "?" for need in run.data.judged_needs})
    shown = [*BASELINE_FOR_LANGUAGES, *([SHIPPED_HISTORY] if has_system(run, SHIPPED_HISTORY) else [])]
    width = 0.8 / len(shown)
    for offset, name in enumerate(shown):
        scores = by_language(run, run.system(name))
        xs = [index + offset * width for index in range(len(languages))]
        right.bar(xs, [scores.get(language, 0.0) for language in languages], width, label=name)
    counts = {
        language: sum(1 for n in run.data.judged_needs if n.language == language) for language in languages
    }
    right.set_xticks([index + width for index in range(len(languages))])
    right.set_xticklabels([f"{language}\n({counts[language]})" for language in languages])
    right.set_ylim(0, 1)
    right.set_ylabel("nDCG@10")
    right.set_title("By need language (needs)")
    right.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(run: QualityRun, out_dir: Path, *, sources: dict[str, str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    table = summary(run)
    cis = intervals(run)
    lines = [
        "# Quality report",
        "",
        f"Written by `matcher eval` on {dt.date.today().isoformat()} ({platform.machine()}, "
        f"Python {platform.python_version()}). Every system ran in this one run.",
        "",
        f"- offerings: `{sources['offerings']}` ({len(run.data.offerings)})",
        f"- needs: `{sources['needs']}` ({len(run.data.needs)}; {len(run.data.judged_needs)} with judgments)",
        f"- judgments: `{sources['qrels']}`",
        f"- encoders: {', '.join(f'{role} = {name}' for role, name in sorted(run.encoders.items()))}",
        "",
        "nDCG with gain 2^grade − 1; MRR of the first offering of grade ≥ 1 in the top 10; Recall@10 of "
        "grade-2 offerings averaged over the needs that have them; P@5 counts grade ≥ 1. The interval "
        "is a paired bootstrap (2,000 resamples of the needs, 95%) of shipped minus the system.",
        "",
        "## Systems",
        "",
    ]
    rows = []
    for name, metrics in table.items():
        cells = [f"**{name}**" if name == SHIPPED else name, *(_number(metrics[m]) for m in METRICS)]
        if name == SHIPPED:
            cells.append("–")
        else:
            diff, low, high = cis[name]
            cells.append(f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]")
        rows.append(cells)
    lines += _table(["system", *METRICS, "shipped − system, nDCG@10 (95% CI)"], rows)
    lines += ["", "## Targets", ""]
    lines += _table(
        ["target", "goal", "measured", "met"],
        [(name, goal, f"{value:.3f}", "yes" if met else "**no**") for name, goal, value, met in targets(run)],
    )
    lines += ["", *_why_missed(run, cis)]
    if has_system(run, SHIPPED_HISTORY):
        lines += ["", *history_section(run, sources)]
    lines += ["", "## By need language (nDCG@10)", ""]
    languages = sorted({need.language or "?" for need in run.data.judged_needs})
    counts = {
        language: sum(1 for n in run.data.judged_needs if (n.language or "?") == language)
        for language in languages
    }
    language_rows = []
    for system in run.systems:
        scores = by_language(run, system)
        language_rows.append(
            [system.name, *(_number(scores.get(language, float("nan"))) for language in languages)]
        )
    lines += _table(
        ["system", *(f"{language} ({counts[language]})" for language in languages)], language_rows
    )
    lines += [
        "",
        f"Shipped, non-English / English: {english_ratio(run, run.system(SHIPPED)):.3f}. "
        "Languages with one or two needs are noise-level.",
        "",
        "## By sector (nDCG@10)",
        "",
        "A need counts under each sector it states, or, when it states none, each the tagger infers.",
        "",
    ]
    shipped_sectors = by_sector(run, SHIPPED)
    quick_sectors = by_sector(run, "quick hybrid")
    lines += _table(
        ["sector", "needs", "shipped", "quick hybrid"],
        [
            (sector, str(count), _number(score), _number(quick_sectors[sector][1]))
            for sector, (count, score) in shipped_sectors.items()
        ],
    )
    tags = tagger_scores(run.data, KeywordTagger(load_taxonomy()))
    vague = vague_scores(run)
    lines += [
        "",
        "## Request understanding",
        "",
        f"Tagger, on the {int(tags['sectors']['needs'])} needs that state codes (hidden from it; "
        "`cross-cutting` aside):",
        "",
    ]
    lines += _table(
        ["family", "precision", "recall"],
        [(family, _number(score["precision"]), _number(score["recall"])) for family, score in tags.items()],
    )
    lines += [
        "",
        f"Vague check against the set's `vague` labels: precision {_number(vague['precision'])}, recall "
        f"{_number(vague['recall'])} ({int(vague['flagged'])} flagged, {int(vague['labelled'])} labelled).",
        "",
        "![systems and languages](quality.png)",
        "",
    ]
    report = out_dir / "quality.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    write_chart(run, out_dir / "quality.png")
    return report


def run_and_write(
    *,
    offerings: Path | None,
    needs: Path | None,
    qrels: Path | None,
    out_dir: Path,
    cache_dir: Path | None,
    multilingual: str,
    english: str,
    progress: Any = None,
    history: Path | None = None,
    groups: Path | None = None,
) -> tuple[Path, QualityRun]:
    """Load the set, run every system, write the report. Used by ``matcher eval``."""
    from evaluation.dataset import (
        DEFAULT_NEEDS,
        DEFAULT_QRELS,
        default_offerings,
        load_groups,
        load_history,
        load_labelled_set,
    )
    from evaluation.quality import evaluate
    from evaluation.systems import VectorCache
    from matcher.embeddings.encoders import build_encoders

    data = load_labelled_set(offerings, needs, qrels)
    encoders = build_encoders(multilingual, english)
    case_groups = load_groups(groups)
    past = load_history(history, data, case_groups) if history is not None else []
    run = evaluate(
        data, encoders, cache=VectorCache(cache_dir), progress=progress, history=past, groups=case_groups
    )
    root = Path.cwd()

    def shown(path: Path) -> str:
        path = path.resolve()
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    sources = {
        "offerings": shown(offerings or default_offerings()),
        "needs": shown(needs or DEFAULT_NEEDS),
        "qrels": shown(qrels or DEFAULT_QRELS),
        "history": shown(history) if history is not None else "none",
        "groups": shown(groups) if groups is not None else "none",
    }
    return write_report(run, out_dir, sources=sources), run
