"""`matcher answers load`, `matcher demo load/remove` and `matcher report assessment` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.cli.test_rank import FAKE

pytestmark = pytest.mark.slow  # subprocesses

SAMPLE = Path(__file__).resolve().parents[2] / "evaluation" / "data" / "answers_sample.jsonl"


def test_answers_load_twice_and_a_bad_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = run("answers", "load", str(SAMPLE), data_dir=data_dir)
    assert first.stdout.splitlines() == ["answers: 72 created, 0 updated, 0 unchanged"]
    second = run("answers", "load", str(SAMPLE), data_dir=data_dir)
    assert second.stdout.splitlines() == ["answers: 0 created, 0 updated, 72 unchanged", "nothing changed"]
    bad = tmp_path / "bad.jsonl"
    rows = [
        {"party": "KEN", "cycle": 2025, "question_id": "Q-1", "question": "q", "answer": "No budget."},
        {"party": "ZZZ", "cycle": 2025, "question_id": "Q-1", "question": "q", "answer": "No budget."},
        {"party": "KEN", "cycle": "later", "question_id": "Q-2", "question": "q", "answer": "No budget."},
    ]
    bad.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    refused = run("answers", "load", str(bad), data_dir=data_dir, check=False)
    assert refused.returncode == 1
    assert f"{bad}:2: party: unknown party 'ZZZ'" in refused.stderr
    assert f"{bad}:3: cycle:" in refused.stderr
    assert "import rejected: 2 problem(s); nothing was written" in refused.stderr
    assert run("answers", "load", str(SAMPLE), data_dir=data_dir).stdout.endswith("nothing changed\n")


def test_demo_then_the_document_then_remove(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    loaded = run("demo", "load", data_dir=data_dir, **FAKE)
    assert loaded.stdout.startswith("demo loaded: 10 needs, 8 answers, 3 draft needs, 3 survey responses")
    assert "already loaded" in run("demo", "load", data_dir=data_dir, **FAKE).stdout
    out = tmp_path / "assessment.html"
    written = run(
        "report", "assessment", "--lang", "es", "--format", "html", "--out", str(out), data_dir=data_dir
    )
    assert "wrote" in written.stdout and "21 statements of need" in written.stdout
    page = out.read_text(encoding="utf-8")
    assert "Evaluación de las necesidades" in page and "[Ejemplo]" not in page  # figures, not titles
    assert "datos de demostración" in page  # the document says it holds examples
    wrong = run("report", "assessment", "--lang", "de", data_dir=data_dir, check=False)
    assert wrong.returncode == 2 and "--lang" in wrong.stderr
    removed = run("demo", "remove", data_dir=data_dir, **FAKE)
    assert removed.stdout.startswith("removed: ") and "15 needs" in removed.stdout
    again = tmp_path / "again.html"
    run("report", "assessment", "--format", "html", "--out", str(again), data_dir=data_dir)
    assert "demonstration data" not in again.read_text(encoding="utf-8")
