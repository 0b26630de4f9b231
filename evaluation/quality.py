"""``matcher eval``: every system over one labelled set, in one run, with a report and a chart.

Writes ``quality.md`` (systems side by side, per language, per sector, paired bootstrap
intervals against the shipped pipeline, the tagger and the vague check) and
``quality.png`` (per-system and per-language bars) into the output folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from evaluation.dataset import LabelledSet, UnderstandingCase
from evaluation.metrics import METRICS, mean, paired_bootstrap, per_need
from evaluation.systems import (
    LearnedRanker,
    Ranker,
    VectorCache,
    build_baselines,
    build_engine,
    embed_history,
    shipped,
    with_history,
    without_folding,
    without_structure,
)
from matcher.embeddings.encoders import Encoder
from matcher.engine.history import PastNeed
from matcher.engine.text.tagging import KeywordTagger
from matcher.engine.understanding import RequestReader
from matcher.engine.weights import RankingWeights
from matcher.taxonomy import GENERAL_SECTOR, Taxonomy, load_taxonomy

SHIPPED = "shipped"
SHIPPED_TEXT_ONLY = "shipped, no structured features"
SHIPPED_UNFOLDED = "shipped, umbrellas not folded"
SHIPPED_HISTORY = "shipped + history"
SHIPPED_SERVED_ONLY = "shipped + history, served neighbours only"
LEARNED = "learned re-ranker + history"
HISTORY_SYSTEMS = (SHIPPED_HISTORY, SHIPPED_SERVED_ONLY, LEARNED)


@dataclass
class SystemResult:
    name: str
    rankings: dict[str, list[str]]
    scores: dict[str, dict[str, float | None]]  # need id -> metric -> value

    def metric(self, name: str, need_ids: Sequence[str] | None = None) -> float:
        chosen = need_ids if need_ids is not None else list(self.scores)
        return mean([self.scores[need_id][name] for need_id in chosen if need_id in self.scores])


@dataclass
class QualityRun:
    data: LabelledSet
    systems: list[SystemResult]
    encoders: dict[str, str]
    date: dt.date
    extras: dict[str, object] = field(default_factory=dict)

    def system(self, name: str) -> SystemResult:
        return next(system for system in self.systems if system.name == name)


def run_system(name: str, ranker: Ranker, data: LabelledSet) -> SystemResult:
    rankings = {need.id: ranker(need) for need in data.judged_needs}
    scores = {need_id: per_need(ranked, data.qrels[need_id]) for need_id, ranked in rankings.items()}
    return SystemResult(name, rankings, scores)


def evaluate(
    data: LabelledSet,
    encoders: Mapping[str, Encoder],
    *,
    weights: RankingWeights | None = None,
    cache: VectorCache | None = None,
    taxonomy: Taxonomy | None = None,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    history: Sequence[PastNeed] = (),
    groups: Mapping[str, str] | None = None,
) -> QualityRun:
    """Run every system. ``encoders`` maps the engine roles (``MULTILINGUAL``, ``ENGLISH``) to encoders.

    With ``history`` (past needs, each with its case group), three more systems run with it:
    the shipped pipeline, the same with only the served-neighbours component, and the learned
    re-ranker. A need's own case group (``groups``, else its id) is always left out of the
    history it is ranked with, so needs of the history are evaluated leave-group-out and
    other needs see the whole history."""
    weights = weights or RankingWeights()
    cache = cache or VectorCache(None)
    taxonomy = taxonomy or load_taxonomy()
    today = today or dt.date.today()
    labels = {role: encoder.name for role, encoder in encoders.items()}
    dense_encoders = {f"dense {encoder.name}": encoder for role, encoder in sorted(encoders.items())}
    baselines = build_baselines(data, dense_encoders, cache, taxonomy)
    engine = build_engine(data, encoders, cache, taxonomy, weights)
    systems: list[tuple[str, Ranker]] = [
        ("random", baselines.random()),
        ("text-blind", baselines.text_blind()),
        ("BM25", baselines.bm25_only()),
        *((label, baselines.dense_only(label)) for label in dense_encoders),
        ("quick hybrid", baselines.quick_hybrid()),
        (
            SHIPPED_TEXT_ONLY,
            shipped(
                build_engine(data, encoders, cache, taxonomy, without_structure(weights)),
                data,
                encoders,
                cache,
                today,
            ),
        ),
        (SHIPPED, shipped(engine, data, encoders, cache, today)),
    ]
    systems.append((SHIPPED_UNFOLDED, shipped(without_folding(engine), data, encoders, cache, today)))
    extras: dict[str, object] = {}
    if history:
        groups = dict(groups or {})
        embedded = embed_history(engine, history, encoders, cache)
        served_only = build_engine(
            data,
            encoders,
            cache,
            taxonomy,
            weights.model_copy(update={"history_region": 0.0, "history_rejected": 0.0}),
            reuse=engine,
        )
        learned = LearnedRanker(engine, embedded, groups, encoders, cache, today)
        extras["learned"] = learned.comparison()
        extras["history_records"] = len(embedded)
        systems += [
            (SHIPPED_HISTORY, with_history(engine, embedded, groups, data, encoders, cache, today)),
            (SHIPPED_SERVED_ONLY, with_history(served_only, embedded, groups, data, encoders, cache, today)),
            (LEARNED, with_history(engine, embedded, groups, data, encoders, cache, today, learned.models)),
        ]
    results = []
    for name, ranker in systems:
        if progress:
            progress(name)
        results.append(run_system(name, ranker, data))
    return QualityRun(data=data, systems=results, encoders=labels, date=today, extras=extras)


def summary(run: QualityRun) -> dict[str, dict[str, float]]:
    return {system.name: {metric: system.metric(metric) for metric in METRICS} for system in run.systems}


def by_language(run: QualityRun, system: SystemResult) -> dict[str, float]:
    languages: dict[str, list[str]] = {}
    for need in run.data.judged_needs:
        languages.setdefault(need.language or "?", []).append(need.id)
    return {language: system.metric("ndcg@10", ids) for language, ids in sorted(languages.items())}


def has_system(run: QualityRun, name: str) -> bool:
    return any(system.name == name for system in run.systems)


def english_ratio(run: QualityRun, system: SystemResult) -> float:
    english = [n.id for n in run.data.judged_needs if n.language == "en"]
    other = [n.id for n in run.data.judged_needs if n.language and n.language != "en"]
    if not english or not other:
        return float("nan")
    return system.metric("ndcg@10", other) / system.metric("ndcg@10", english)


def intervals(run: QualityRun, metric: str = "ndcg@10") -> dict[str, tuple[float, float, float]]:
    best = run.system(SHIPPED)
    out = {}
    for system in run.systems:
        if system.name == SHIPPED:
            continue
        ids = [
            i
            for i in best.scores
            if best.scores[i][metric] is not None and system.scores[i][metric] is not None
        ]
        out[system.name] = paired_bootstrap(
            [best.scores[i][metric] for i in ids],  # type: ignore[misc]
            [system.scores[i][metric] for i in ids],  # type: ignore[misc]
        )
    return out


def tagger_scores(
    data: LabelledSet, tagger: KeywordTagger, minimum: float = 1.0
) -> dict[str, dict[str, float]]:
    """Micro-averaged precision and recall of the tagger per code family, over the needs of
    ``data`` that state codes of that family (``tagging_scores`` over all languages)."""
    cases = [
        UnderstandingCase(need, data.vague.get(need.id, False), need.sectors, need.assistance_types)
        for need in data.needs
    ]
    scores = tagging_scores(cases, tagger, minimum)
    return {family: scores[family][ALL_LANGUAGES] for family in FAMILIES}


FAMILIES = ("sectors", "assistance_types")
ALL_LANGUAGES = "all"


def tagging_scores(
    cases: Sequence[UnderstandingCase], tagger: KeywordTagger, minimum: float = 1.0
) -> dict[str, dict[str, dict[str, float]]]:
    """family → language (and ``ALL_LANGUAGES``) → needs, precision, recall: micro-averaged
    over the cases whose gold codes of that family are not empty, the tagger seeing only the
    text, in the need's own language. The general-implementation sector (``GENERAL_SECTOR``)
    is left out: it is a catch-all, never a finding."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for family in FAMILIES:
        counts: dict[str, list[int]] = {}
        for case in cases:
            gold = set(getattr(case, family)) - {GENERAL_SECTOR}
            if not gold:
                continue
            need = case.need
            found = set(tagger.tag(need.text, need.language).codes(family, minimum)) - {GENERAL_SECTOR}
            for language in (need.language or "?", ALL_LANGUAGES):
                tally = counts.setdefault(language, [0, 0, 0, 0])
                tally[0] += len(found & gold)
                tally[1] += len(found - gold)
                tally[2] += len(gold - found)
                tally[3] += 1
        out[family] = {
            language: {
                "needs": float(needs),
                "precision": hits / (hits + extra) if hits + extra else float("nan"),
                "recall": hits / (hits + missed) if hits + missed else float("nan"),
            }
            for language, (hits, extra, missed, needs) in counts.items()
        }
    return out


def vague_scores(cases: Sequence[UnderstandingCase], reader: RequestReader) -> dict[str, float]:
    """The vague check against the labels (never an input): how many vague requests it finds
    (``recall``) and how many of the other requests it flags (``false_alarms``, a share)."""
    labelled = [case for case in cases if case.vague]
    others = [case for case in cases if not case.vague]
    found = sum(1 for case in labelled if reader.assess(case.need).vague)
    false = sum(1 for case in others if reader.assess(case.need).vague)
    return {
        "labelled": float(len(labelled)),
        "found": float(found),
        "recall": found / len(labelled) if labelled else float("nan"),
        "others": float(len(others)),
        "flagged_others": float(false),
        "false_alarms": false / len(others) if others else float("nan"),
    }


def halves(cases: Sequence[UnderstandingCase]) -> dict[str, list[UnderstandingCase]]:
    """The request set's two halves by the number in the id (``req-ar-07`` is odd): the odd
    half was looked at while the vocabulary and the vague rule were tuned, the even half never."""
    return {
        "odd ids (tuning half)": [case for case in cases if int(case.need.id[-2:]) % 2 == 1],
        "even ids (untouched half)": [case for case in cases if int(case.need.id[-2:]) % 2 == 0],
    }
