"""Write the quality report (``quality.md``) and its chart (``quality.png``) for one run."""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.dataset import DEFAULT_NEEDS, EXAMPLE_NEEDS, REQUEST_NEEDS, load_understanding_cases
from evaluation.metrics import METRICS, paired_bootstrap
from evaluation.quality import (
    ALL_LANGUAGES,
    FAMILIES,
    LEARNED,
    SHIPPED,
    SHIPPED_HISTORY,
    SHIPPED_SERVED_ONLY,
    SHIPPED_UNFOLDED,
    QualityRun,
    by_language,
    english_ratio,
    halves,
    has_system,
    intervals,
    summary,
    tagging_scores,
    vague_scores,
)
from matcher.engine.learning import Comparison, should_promote
from matcher.engine.text.tagging import KeywordTagger
from matcher.engine.understanding import RequestReader
from matcher.taxonomy import UN_LANGUAGES, load_taxonomy

RELEASE_FIGURES = Path(__file__).resolve().parent / "results" / "release_understanding.json"

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


def _pr(score: dict[str, Any] | None) -> str:
    if not score or score.get("precision") is None:
        return "–"
    return f"{_number(score['precision'])} / {_number(score['recall'])} ({int(score['needs'])})"


def understanding_section() -> list[str]:
    """Vague check and tagger on the dev set, the team's request set (and its halves) and the
    team's examples, this code beside the last release's (``RELEASE_FIGURES``). Tagging only:
    no embeddings, so every eval run reports every set whatever ``--needs`` it ranks."""
    reader = RequestReader()
    requests = load_understanding_cases(REQUEST_NEEDS)
    sets = {
        "dev set": load_understanding_cases(DEFAULT_NEEDS),
        "request set": requests,
        **{f"request set, {name}": cases for name, cases in halves(requests).items()},
        "team's examples": load_understanding_cases(EXAMPLE_NEEDS),
    }
    release = json.loads(RELEASE_FIGURES.read_text(encoding="utf-8"))
    before = release["sets"]
    lines = [
        "## Request understanding",
        "",
        "A request is vague when it names no concrete subject: no sector but `cross-cutting` stated and no "
        "keyword of any other sector or sub-sector in its text (`matcher/engine/vagueness.py`). Measured on "
        "the dev set (`dev_needs.jsonl`), the team's request set (`requests.jsonl`: 144 requests, 24 per UN "
        "language, 48 vague; its odd-numbered half was looked at while the vocabulary and the rule were "
        "tuned, its even half never) and the team's own examples (`understanding_examples.jsonl`). "
        f"Last release: {release['source']}.",
        "",
        "### Vague check",
        "",
    ]
    rows: list[tuple[str, ...]] = []
    for name, cases in sets.items():
        found = vague_scores(cases, reader)
        old = before.get(name, {}).get("vague", {})
        rows.append(
            (
                name,
                f"{int(found['found'])} of {int(found['labelled'])} ({_number(found['recall'])})",
                f"{int(found['flagged_others'])} of {int(found['others'])} ({_number(found['false_alarms'])})",
                f"{_number(old.get('recall'))} / {_number(old.get('false_alarms'))}",
            )
        )
    lines += _table(
        ["set", "vague found (recall)", "false alarms", "last release: recall / false alarms"], rows
    )
    for family in FAMILIES:
        lines += [
            "",
            f"### Tagger, {family.replace('_', ' ')}: precision / recall (needs), by language",
            "",
            "Gold: the request set's `expected_*` labels; the dev set's stated codes (on the needs that "
            "state any); `cross-cutting` aside. Each need is tagged in its own language.",
            "",
        ]
        rows = []
        for name, cases in sets.items():
            if "half" in name:
                continue
            tagged: dict[str, Any] = tagging_scores(cases, reader.tagger)[family]
            old = before.get(name, {}).get(family, {})
            if not tagged:
                continue
            for label, scores in (("now", tagged), ("last release", old)):
                rows.append(
                    (
                        f"{name}, {label}",
                        *(_pr(scores.get(language)) for language in (ALL_LANGUAGES, *UN_LANGUAGES)),
                    )
                )
        lines += _table(["set", "all", *UN_LANGUAGES], rows)
    return lines


ANSWERS_SAMPLE = Path(__file__).resolve().parent / "data" / "answers_sample.jsonl"


def wilson(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion (sound for small samples and values near 1)."""
    if total == 0:
        return float("nan"), float("nan")
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def answer_scores(path: Path = ANSWERS_SAMPLE) -> dict[str, Any]:
    """The challenge-kind reader and the vague check against the answers sample's labels
    (never inputs: the reader gets the answer, its language and the question). Halves: the
    cue lists were tuned on the odd-numbered answers (``ans-xx-01``, ``-03``, ...); the
    even-numbered half was held out."""
    import json

    from matcher.engine.challenges import CHALLENGE_KINDS, read_statement
    from matcher.engine.understanding import default_reader

    reader = default_reader()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = []
    for row in rows:
        statement = read_statement(row["answer"], row["language"], question=row["question"], reader=reader)
        results.append(
            {
                "language": row["language"],
                "half": "tuning (odd)" if int(row["id"].rsplit("-", 1)[1]) % 2 else "held out (even)",
                "gold": row["challenge_kind"],
                "found": statement.challenge.kind or "-",
                "vague": bool(row["vague"]),
                "flagged": statement.vague,
            }
        )

    def accuracy(items: list[dict[str, Any]]) -> tuple[int, int]:
        return sum(item["gold"] == item["found"] for item in items), len(items)

    def vague(items: list[dict[str, Any]]) -> dict[str, int]:
        return {
            "labelled": sum(item["vague"] for item in items),
            "caught": sum(item["vague"] and item["flagged"] for item in items),
            "specific": sum(not item["vague"] for item in items),
            "false_alarms": sum(item["flagged"] and not item["vague"] for item in items),
        }

    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"half": {}, "language": {}}
    for item in results:
        groups["half"].setdefault(item["half"], []).append(item)
        groups["language"].setdefault(item["language"], []).append(item)
    confusion = {gold: dict.fromkeys([*CHALLENGE_KINDS, "-"], 0) for gold in CHALLENGE_KINDS}
    for item in results:
        confusion[item["gold"]][item["found"]] += 1
    return {
        "answers": len(results),
        "accuracy": accuracy(results),
        "by_half": {name: accuracy(items) for name, items in sorted(groups["half"].items(), reverse=True)},
        "by_language": {name: accuracy(items) for name, items in sorted(groups["language"].items())},
        "confusion": confusion,
        "vague": vague(results),
        "vague_by_half": {name: vague(items) for name, items in sorted(groups["half"].items(), reverse=True)},
    }


def answer_lines(scores: dict[str, Any]) -> list[str]:
    """The report's section on national-report answers."""
    hits, total = scores["accuracy"]
    low, high = wilson(hits, total)
    lines = [
        "",
        "## National-report answers (needs assessment)",
        "",
        f"`evaluation/data/answers_sample.jsonl`: {total} answers, 12 in each UN language, labels written "
        "before any classifier. Challenge kind by the cue lists of `catalog/data/challenge_kinds.json` "
        "(tuned on the odd-numbered answers only; the even-numbered half was held out); vague flag by the "
        "product's own vague check. Intervals: 95% Wilson.",
        "",
        f"Challenge-kind accuracy: {hits}/{total} = {hits / total:.3f} [{low:.3f}, {high:.3f}].",
        "",
    ]
    rows = []
    for name, (part_hits, part_total) in scores["by_half"].items():
        part_low, part_high = wilson(part_hits, part_total)
        rows.append(
            (
                name,
                f"{part_hits}/{part_total}",
                f"{part_hits / part_total:.3f}",
                f"[{part_low:.3f}, {part_high:.3f}]",
            )
        )
    lines += _table(["half", "right", "accuracy", "95% interval"], rows)
    lines += ["", "By language (one answer is 8 points of a language's accuracy):", ""]
    lines += _table(
        ["language", "right", "accuracy"],
        [(name, f"{a}/{b}", f"{a / b:.3f}") for name, (a, b) in scores["by_language"].items()],
    )
    kinds = list(scores["confusion"])
    lines += ["", "Confusion matrix (rows: label; columns: reader; `-`: no kind found):", ""]
    lines += _table(
        ["label \\ reader", *kinds, "-"],
        [
            (gold, *(str(counts[kind]) for kind in [*kinds, "-"]))
            for gold, counts in scores["confusion"].items()
        ],
    )
    vague = scores["vague"]
    lines += [
        "",
        f"Vague check on the answers: recall {vague['caught']}/{vague['labelled']} = "
        f"{vague['caught'] / vague['labelled']:.3f}, false alarms {vague['false_alarms']}/{vague['specific']} = "
        f"{vague['false_alarms'] / vague['specific']:.3f} of the specific answers "
        "(the check is the request reader's; nothing was tuned on these labels).",
        "",
    ]
    lines += _table(
        ["half", "vague caught", "false alarms"],
        [
            (name, f"{part['caught']}/{part['labelled']}", f"{part['false_alarms']}/{part['specific']}")
            for name, part in scores["vague_by_half"].items()
        ],
    )
    return lines


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
    lines += ["", *understanding_section(), ""]
    lines += [
        *answer_lines(answer_scores()),
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
