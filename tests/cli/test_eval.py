"""`matcher eval` on a tiny labelled set: the report holds every system and sane numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.cli.test_rank import FAKE, OFFERINGS

pytestmark = pytest.mark.slow  # runs `matcher eval` in a subprocess

SYSTEMS = (
    "random",
    "text-blind",
    "BM25",
    "dense fake-64",
    "quick hybrid",
    "shipped, no structured features",
    "**shipped**",
    "shipped, umbrellas not folded",
    "shipped + history",
    "shipped + history, served neighbours only",
    "learned re-ranker + history",
)


def test_eval_writes_a_report_with_every_system(tmp_path: Path) -> None:
    offerings = [json.loads(line) for line in OFFERINGS.read_text(encoding="utf-8").splitlines()][:12]
    offerings_file = tmp_path / "offerings.jsonl"
    offerings_file.write_text("".join(json.dumps(o) + "\n" for o in offerings), encoding="utf-8")
    needs = [
        {
            "id": "n-en",
            "party": "KEN",
            "title": "Mercury waste",
            "description": "Hospital waste with mercury.",
            "language": "en",
        },
        {
            "id": "n-fr",
            "party": "SEN",
            "title": "Orpaillage",
            "description": "Les orpailleurs utilisent du mercure.",
            "language": "fr",
        },
        {
            "id": "n-es",
            "party": "PER",
            "title": "Apoyo",
            "description": "Necesitamos apoyo.",
            "language": "es",
            "vague": True,
        },
    ]
    needs_file = tmp_path / "needs.jsonl"
    needs_file.write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in needs), encoding="utf-8")
    ids = [o["id"] for o in offerings]
    qrels = {"n-en": {ids[0]: 2, ids[1]: 1}, "n-fr": {ids[2]: 2}, "n-es": {ids[3]: 1}}
    qrels_file = tmp_path / "qrels.json"
    qrels_file.write_text(json.dumps(qrels), encoding="utf-8")
    out = tmp_path / "results"
    result = run(
        "eval",
        "--offerings",
        str(offerings_file),
        "--needs",
        str(needs_file),
        "--qrels",
        str(qrels_file),
        "--out",
        str(out),
        data_dir=tmp_path / "d",
        **{**FAKE, "MATCHER_MULTILINGUAL_ENCODER": "fake:64", "MATCHER_ENGLISH_ENCODER": ""},
    )
    assert "shipped nDCG@10" in result.stdout
    assert "shipped + history nDCG@10" in result.stdout
    report = (out / "quality.md").read_text(encoding="utf-8")
    assert (out / "quality.png").stat().st_size > 10_000
    systems_table = report.split("## Systems")[1].split("## Targets")[0]
    for system in SYSTEMS:
        assert f"| {system} |" in systems_table, system
    numbers = [float(x) for x in re.findall(r"\| (\d\.\d{3})", systems_table)]
    assert numbers and all(0.0 <= value <= 1.0 for value in numbers)
    languages = report.split("## By need language")[1].split("## By sector")[0]
    assert "en (1)" in languages and "fr (1)" in languages and "es (1)" in languages
    assert re.search(r"\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", systems_table)  # bootstrap intervals
    understanding = report.split("## Request understanding")[1].split("## National-report answers")[0]
    assert "### Vague check" in understanding and "### Tagger, sectors" in understanding
    for labelled_set in ("dev set", "request set", "request set, even ids (untouched half)"):
        assert re.search(rf"\| {re.escape(labelled_set)} \| \d+ of \d+ \(\d\.\d{{3}}\) \|", understanding)
    answers = report.split("## National-report answers")[1]
    assert "Challenge-kind accuracy: " in answers and "| held out (even) |" in answers
    assert "Confusion matrix" in answers and "Vague check on the answers: recall" in answers
    targets = report.split("## Targets")[1].split("## By need language")[0]
    for goal in (
        "| nDCG@10 | ≥ 0.75 |",
        "| nDCG@10 vs quick hybrid | ≥ 1.1× |",
        "| Recall@10 of grade-2 | ≥ 0.85 |",
    ):
        assert goal in targets, goal
    history = report.split("## With history")[1].split("## By need language")[0]
    assert "`evaluation/data/dev_history.jsonl` (58 past needs)" in history
    assert "| Recall@10 of grade-2 | ≥ 0.85 |" in history
    assert "Learned re-ranker" in history and "Verdict: **" in history
