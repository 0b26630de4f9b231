"""Import and export of the interchange format, on both database engines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.loaders import (
    ImportRejected,
    bundled_catalog_files,
    export_records,
    format_records,
    load_files,
)
from catalog.rows import KINDS, NeedRow
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, Need, Offering, Party, Provider

BUNDLED_OFFERINGS = 76
BUNDLED_PROVIDERS = 54
BUNDLED_PARTIES = 193


def full_export(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {kind: format_records(export_records(session, kind), kind, "jsonl") for kind in KINDS}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def good_offering(**overrides: object) -> dict:
    row = {
        "id": "test-offering",
        "provider": "Test Organisation",
        "provider_id": "test-org",
        "provider_kind": "ngo",
        "title": "Dental amalgam phase-down support",
        "description": "Training for dentists on mercury-free fillings.",
        "sectors": ["dental-amalgam"],
        "assistance_types": ["training"],
        "regions": ["africa"],
        "eligible_status": ["developing"],
    }
    row.update(overrides)
    return row


def good_need(**overrides: object) -> dict:
    row = {
        "id": "test-need",
        "party": "KEN",
        "title": "Inventory of mercury releases",
        "description": "We need help to build a national mercury inventory.",
        "language": "en",
    }
    row.update(overrides)
    return row


@pytest.fixture
def loaded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files())
    return sessions


def test_bundled_catalog_loads_with_expected_counts(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        report = load_files(session, bundled_catalog_files())
    assert report.lines() == [
        f"parties: {BUNDLED_PARTIES} created, 0 updated, 0 unchanged",
        f"providers: {BUNDLED_PROVIDERS} created, 0 updated, 0 unchanged",
        f"offerings: {BUNDLED_OFFERINGS} created, 0 updated, 0 unchanged",
    ]
    with sessions() as session:
        assert count(session, Party) == BUNDLED_PARTIES
        assert count(session, Provider) == BUNDLED_PROVIDERS
        assert count(session, Offering) == BUNDLED_OFFERINGS
        gef = session.get(Offering, "gef-trust-fund")
        assert gef is not None
        assert gef.provider == "Global Environment Facility (GEF)"
        assert gef.provider_id == "gef"
        assert "asgm" in gef.sectors
        assert gef.funding_max_usd == 12_000_000
        kenya = session.get(Party, "KEN")
        assert kenya is not None and kenya.un_region == "africa" and kenya.status == "developing"
        assert session.scalars(select(AuditEvent.action)).all() == ["catalog.load"]


def test_second_load_changes_nothing(loaded: sessionmaker[Session]) -> None:
    before = full_export(loaded)
    with session_scope(loaded) as session:
        report = load_files(session, bundled_catalog_files())
    assert not report.changed
    assert report.counts["offerings"].unchanged == BUNDLED_OFFERINGS
    assert report.counts["parties"].unchanged == BUNDLED_PARTIES
    assert full_export(loaded) == before
    with loaded() as session:  # an import that changed nothing leaves no audit event
        assert count(session, AuditEvent) == 1


def test_changed_row_is_updated_in_place(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    with loaded() as session:
        record = next(r for r in export_records(session, "offerings") if r["id"] == "gef-trust-fund")
    record["title"] = "GEF Trust Fund (renamed)"
    with session_scope(loaded) as session:
        report = load_files(session, [write_jsonl(tmp_path / "one.jsonl", [record])])
    assert str(report.counts["offerings"]) == "0 created, 1 updated, 0 unchanged"
    with loaded() as session:
        assert session.get(Offering, "gef-trust-fund").title == "GEF Trust Fund (renamed)"
        assert count(session, Offering) == BUNDLED_OFFERINGS


BAD_ROWS = {
    "unknown sector code": (
        [good_offering(id="bad", sectors=["mercury-magic"])],
        "sectors",
        "allowed: supply-trade",
    ),
    "missing required field": (
        [{k: v for k, v in good_offering(id="bad").items() if k != "title"}],
        "title",
        "required",
    ),
    "malformed JSON": (['{"id": "bad", "provider": "x",'], "-", "malformed JSON"),
    "wrong type": ([good_offering(id="bad", funding_min_usd="a lot")], "funding_min_usd", "valid number"),
    "duplicate id": ([good_offering(id="same"), good_offering(id="same")], "id", "duplicate id 'same'"),
    "unknown party": ([good_need(party="XYZ")], "party", "unknown party 'XYZ'"),
    "unknown need status": ([good_need(status="lost")], "status", "allowed: draft"),
    "unknown provider kind": ([good_offering(id="bad", provider_kind="wizard")], "provider_kind", "allowed:"),
    "infinite money": ([good_offering(id="bad", funding_max_usd=float("inf"))], "funding_max_usd", "finite"),
    "money beyond a float": (
        ['{"id": "bad", "party": "KEN", "title": "t", "description": "d", "budget_usd": 1e999}'],
        "budget_usd",
        "finite",
    ),
    "not a number": ([good_need(id="bad", budget_usd=float("nan"))], "budget_usd", "finite"),
    "NUL in a title": ([good_need(id="bad", title="Mercury\x00waste")], "title", "control character"),
    "escape in a description": ([good_offering(id="bad", description="a\x1b[31m")], "description", "control"),
    "NUL in an id": ([good_need(id="bad\x00id")], "id", ""),
    "script URL": ([good_offering(id="bad", url="javascript:alert(1)")], "url", "http"),
    "capacity beyond an integer": ([good_offering(id="bad", capacity=2**31)], "capacity", "less than"),
    "title longer than its column": ([good_need(id="bad", title="t" * 501)], "title", "at most 500"),
    "provider longer than its column": (
        [good_offering(id="bad", provider="p" * 301)],
        "provider",
        "at most 300",
    ),
    "provider id longer than its column": (
        [good_offering(id="bad", provider_id="p" * 101)],
        "provider_id",
        "at most 100",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS, ids=list(BAD_ROWS))
def test_bad_input_is_reported_and_writes_nothing(
    loaded: sessionmaker[Session], tmp_path: Path, case: str
) -> None:
    rows, field, fragment = BAD_ROWS[case]
    kind_row = (
        good_need(id="fine-need") if "party" in json.dumps(rows[0]) else good_offering(id="fine-offering")
    )
    path = write_jsonl(tmp_path / "input.jsonl", [kind_row, *rows])
    before = full_export(loaded)
    with pytest.raises(ImportRejected) as rejected, session_scope(loaded) as session:
        load_files(session, [path])
    messages = [str(error) for error in rejected.value.errors]
    assert any(
        message.startswith(f"{path}:") and f": {field}: " in message and fragment in message
        for message in messages
    ), messages
    assert all(error.line >= 2 for error in rejected.value.errors), "the good first row is not blamed"
    assert full_export(loaded) == before


def test_every_bad_row_is_listed_across_files(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    offerings = write_jsonl(
        tmp_path / "offerings.jsonl",
        [
            good_offering(id="ok"),
            good_offering(id="bad-a", regions=["mars"]),
            good_offering(id="bad-b", title=""),
        ],
    )
    needs = tmp_path / "needs.csv"
    needs.write_text(
        "id,party,title,description,sectors,budget_usd\n"
        'n-1,KEN,Titre,"Une description\nsur deux lignes",asgm;health,1000\n'
        "n-2,ZZZ,Title,Description,,not-a-number\n",
        encoding="utf-8",
    )
    before = full_export(loaded)
    with pytest.raises(ImportRejected) as rejected, session_scope(loaded) as session:
        load_files(session, [offerings, needs])
    located = {(Path(error.file).name, error.line, error.field) for error in rejected.value.errors}
    assert located == {
        ("offerings.jsonl", 2, "regions"),
        ("offerings.jsonl", 3, "title"),
        ("needs.csv", 4, "budget_usd"),  # the quoted cell spans lines 2-3, so n-2 is on line 4
        ("needs.csv", 4, "party"),
    }
    assert full_export(loaded) == before


def test_csv_conventions(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    path.write_text(
        "id,party,title,description,sectors,assistance_types,budget_usd,confidential,deadline,extra\n"
        "n-1,ken,Titre,Description,asgm; health,,2500.5,true,2027-03-31,ignored\n",
        encoding="utf-8",
    )
    with session_scope(loaded) as session:
        report = load_files(session, [path])
    assert report.ignored_fields == {str(path): ["extra"]}
    with loaded() as session:
        need = session.get(Need, "n-1")
        assert need is not None
        assert need.party_iso3 == "KEN"
        assert need.sectors == ["asgm", "health"]
        assert need.assistance_types == []
        assert need.budget_usd == 2500.5
        assert need.confidential is True
        assert need.deadline is not None and need.deadline.isoformat() == "2027-03-31"
        assert need.language == "fr"  # absent in the file, so detected on import ("Titre. Description")
        assert need.status == "submitted"


def test_csv_money_must_be_finite(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    path.write_text(
        "id,party,title,description,budget_usd\n"
        "n-1,KEN,Title,Description,Infinity\n"
        "n-2,KEN,Title,Description,nan\n"
        "n-3,KEN,Title,Description,1e999\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected, session_scope(loaded) as session:
        load_files(session, [path])
    assert {(error.line, error.field) for error in rejected.value.errors} == {
        (2, "budget_usd"),
        (3, "budget_usd"),
        (4, "budget_usd"),
    }


def test_imports_keep_past_deadlines(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "old.jsonl", [good_need(id="old-need", deadline="2019-05-01", status="closed")]
    )
    with session_scope(loaded) as session:
        load_files(session, [path])
    with loaded() as session:
        need = session.get(Need, "old-need")
        assert need is not None and need.deadline is not None and need.deadline.isoformat() == "2019-05-01"


def test_kind_is_inferred_from_fields(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    parties = tmp_path / "parties.csv"
    parties.write_text(
        "iso3,name_en,un_region,status,ldc,sids\nXKX,Kosovo,cee,transition,0,0\n", encoding="utf-8"
    )
    needs = write_jsonl(
        tmp_path / "needs.jsonl", [good_need(party="XKX")]
    )  # refers to a party in the same batch
    offerings = write_jsonl(tmp_path / "offerings.jsonl", [good_offering()])
    with session_scope(loaded) as session:
        report = load_files(session, [needs, offerings, parties])
    assert report.counts["parties"].created == 1
    assert report.counts["needs"].created == 1
    assert report.counts["offerings"].created == 1
    assert report.counts["providers"].created == 1


def test_unrecognisable_file_is_rejected(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mystery.jsonl", [{"name": "x"}])
    with pytest.raises(ImportRejected) as rejected, session_scope(loaded) as session:
        load_files(session, [path])
    assert "cannot tell the kind" in str(rejected.value.errors[0])


FULL_OFFERING = good_offering(
    id="full-offering",
    countries=["KEN", "TZA"],
    languages=["en", "sw"],
    funding_min_usd=1000,
    funding_max_usd=2500.75,
    url="https://example.org/programme",
    verified=False,
    active=False,
    opens="2026-01-01",
    closes="2026-12-31",
    capacity=4,
)
FULL_NEED = good_need(
    id="full-need",
    title='Évaluation «initiale»; virgules, et guillemets "doubles"',
    description="Ligne un\nligne deux",
    sectors=["asgm", "health"],
    assistance_types=["training"],
    budget_usd=50000,
    deadline="2027-06-30",
    confidential=True,
    status="in_review",
)
# Text a spreadsheet would run, or that begins with the guard's own quote: the CSV export
# guards it and the loader takes the guard off again.
FORMULA_NEEDS = [
    good_need(id="formula-need-1", title='=HYPERLINK("http://evil.example","x")', description="+1 call us"),
    good_need(id="formula-need-2", title="'quoted title", description="''two quotes"),
    good_need(id="formula-need-3", title="@SUM(A1)", description="-starts with a dash\n=and a formula line"),
    good_need(id="formula-need-4", title="'=already guarded", description="'+'"),
    good_need(id="formula-need-5", title="Lines\r\nfrom a form", description="a lone\rcarriage return"),
]


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_export_import_round_trip_is_lossless(
    loaded: sessionmaker[Session],
    sessions_factory_for_copy: sessionmaker[Session],
    tmp_path: Path,
    file_format: str,
) -> None:
    with session_scope(loaded) as session:
        load_files(
            session,
            [
                write_jsonl(tmp_path / "extra.jsonl", [FULL_OFFERING]),
                write_jsonl(tmp_path / "n.jsonl", [FULL_NEED, *FORMULA_NEEDS]),
            ],
        )
    original = full_export(loaded)
    paths = []
    for kind in ("parties", "offerings", "needs"):  # parties first: the others refer to them
        with loaded() as session:
            text = format_records(export_records(session, kind), kind, file_format)
        path = tmp_path / f"export-{kind}.{file_format}"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    with session_scope(sessions_factory_for_copy) as session:
        report = load_files(session, paths)
    assert report.counts["offerings"].created == BUNDLED_OFFERINGS + 1
    copy = full_export(sessions_factory_for_copy)
    assert copy == original
    offering = next(json.loads(line) for line in copy["offerings"].splitlines() if "full-offering" in line)
    assert {k: offering[k] for k in FULL_OFFERING} == FULL_OFFERING
    need = next(json.loads(line) for line in copy["needs"].splitlines() if "full-need" in line)
    assert {k: need[k] for k in FULL_NEED} == FULL_NEED
    for row in FORMULA_NEEDS:
        copied = next(json.loads(line) for line in copy["needs"].splitlines() if row["id"] in line)
        assert (copied["title"], copied["description"]) == (row["title"], row["description"])
    if file_format == "csv":
        with paths[-1].open(encoding="utf-8", newline="") as exported:
            for row in csv.reader(exported):
                for cell in row:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
    ).filter(lambda text: text.strip() and not any(ord(c) < 32 and c not in "\t\n\r" for c in text))
)
def test_csv_export_then_read_is_lossless_for_any_title(title: str) -> None:
    """Without a database: the CSV writer and reader alone, over generated titles."""
    import tempfile

    from catalog.files import read_sources

    record = NeedRow.model_validate(good_need(title=title)).to_record()
    text = format_records([record], "needs", "csv")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "needs.csv"
        path.write_text(text, encoding="utf-8", newline="")
        rows, _, errors, _ = read_sources([path], "needs")
    assert errors == []
    assert rows[0].row.to_record() == record


@pytest.fixture
def sessions_factory_for_copy(tmp_path: Path) -> sessionmaker[Session]:
    """A second, empty SQLite database to import an export into."""
    from matcher.store.db import create_db_engine, make_session_factory, upgrade

    engine = create_db_engine(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    upgrade(engine)
    return make_session_factory(engine)
