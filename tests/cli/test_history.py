"""`matcher history load`, `matcher rank --history` and `matcher model train/list/rollback`
as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.cli.test_rank import FAKE, OFFERINGS

pytestmark = pytest.mark.slow  # each test runs the `matcher` command in a subprocess

ROOT = Path(__file__).parents[2]
DEV_HISTORY = ROOT / "evaluation" / "data" / "dev_history.jsonl"


def test_history_load_then_again_changes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = run("history", "load", str(DEV_HISTORY), data_dir=data_dir)
    assert first.stdout.splitlines() == [
        "past needs: 58 created, 0 updated, 0 unchanged",
        "proposals: 132 created, 0 updated, 0 unchanged",
    ]
    second = run("history", "load", str(DEV_HISTORY), data_dir=data_dir)
    assert second.stdout.splitlines()[-1] == "nothing changed"


def test_a_bad_history_record_rejects_the_whole_file(tmp_path: Path) -> None:
    good = {
        "id": "past-1",
        "party": "KEN",
        "title": "Waste",
        "description": "Mercury waste.",
        "served_by": [],
    }
    rows = [
        good,
        {**good, "id": "past-2", "served_by": ["no-such-programme"]},
        {**good, "id": "past-3", "party": "XXX"},
        {**good, "id": "past-4", "served_by": ["gmp"], "declined": [{"offering_id": "gmp", "reason": "x"}]},
    ]
    file = tmp_path / "history.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{not json\n", encoding="utf-8")
    data_dir = tmp_path / "data"
    result = run("history", "load", str(file), data_dir=data_dir, check=False)
    assert result.returncode == 1
    errors = result.stderr
    assert f"{file}:2: served_by: unknown offering(s) no-such-programme" in errors
    assert f"{file}:3: party: unknown party 'XXX'" in errors
    assert f"{file}:4: -: offering(s) both served and declined: gmp" in errors
    assert f"{file}:5: -: malformed JSON" in errors
    assert "nothing was written" in errors
    export = run("catalog", "export", "--kind", "needs", data_dir=data_dir)
    assert export.stdout == ""


def test_rank_with_history_shows_track_records(tmp_path: Path) -> None:
    records = [json.loads(line) for line in DEV_HISTORY.read_text(encoding="utf-8").splitlines()]
    needs = tmp_path / "needs.jsonl"
    new = {**records[0], "id": "new-need", "party": "GAB"}
    for field in ("served_by", "declined", "year"):
        new.pop(field, None)
    needs.write_text(json.dumps(new, ensure_ascii=False) + "\n", encoding="utf-8")
    plain = run("rank", "--offerings", str(OFFERINGS), "--needs", str(needs), data_dir=tmp_path / "a", **FAKE)
    with_history = run(
        "rank",
        "--offerings",
        str(OFFERINGS),
        "--needs",
        str(needs),
        "--history",
        str(DEV_HISTORY),
        data_dir=tmp_path / "b",
        **FAKE,
    )
    before = json.loads(plain.stdout)["results"]
    after = json.loads(with_history.stdout)["results"]
    assert not any("track_record" in item["explanation"] for item in before)
    served = {item["offering_id"]: item for item in after if "track_record" in item["explanation"]}
    assert set(records[0]["served_by"]) <= set(served)
    example = served[records[0]["served_by"][0]]["explanation"]["track_record"]["examples"][0]
    assert example["need_id"] == records[0]["id"] and example["country"] == "Cameroon"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_model_commands(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert "no model trained yet" in run("model", "list", data_dir=data_dir).stdout
    refused = run("model", "rollback", data_dir=data_dir, check=False)
    assert refused.returncode == 2 and "hand-set" in refused.stderr
    run("history", "load", str(DEV_HISTORY), data_dir=data_dir)
    trained = run("model", "train", data_dir=data_dir, **FAKE)
    verdict, figures = trained.stdout.splitlines()
    assert verdict.startswith("model-1: ")
    assert figures.startswith("held-out nDCG@10: model ")
    listed = run("model", "list", data_dir=data_dir).stdout.splitlines()
    assert listed[0].startswith("version\tstate") and listed[1].startswith("model-1\t")
