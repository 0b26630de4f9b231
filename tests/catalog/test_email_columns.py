"""Notification addresses in the interchange format: ``email`` on parties and
``provider_email`` on offerings (kept on the provider), on both database engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from catalog.loaders import ImportRejected, export_records, format_records, load_files
from matcher.addresses import normalize_email
from matcher.store.db import create_db_engine, make_session_factory, session_scope, upgrade
from matcher.store.models import Party, Provider

PARTIES_CSV = (
    "iso3,name_en,name_fr,name_es,un_region,status,ldc,sids,email\n"
    "KEN,Kenya,,,africa,developing,false,false,Focal.Point@Environment.GO.KE\n"
    "PER,Peru,Pérou,Perú,grulac,developing,false,false,\n"
)


def offering(number: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"offering-{number}",
        "provider": "Test Organisation",
        "provider_id": "test-org",
        "title": f"Programme {number}",
        "description": "Training on mercury waste.",
        "sectors": ["waste"],
    }
    row.update(overrides)
    return row


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def copy_sessions(tmp_path: Path) -> sessionmaker[Session]:
    """A second, empty SQLite database to import an export into."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    upgrade(engine)
    return make_session_factory(engine)


def export_all(sessions: sessionmaker[Session], file_format: str) -> dict[str, str]:
    with sessions() as session:
        return {
            kind: format_records(export_records(session, kind), kind, file_format)
            for kind in ("parties", "offerings")
        }


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_party_and_provider_emails_survive_export_then_import(
    sessions: sessionmaker[Session],
    copy_sessions: sessionmaker[Session],
    tmp_path: Path,
    file_format: str,
) -> None:
    parties = tmp_path / "parties.csv"
    parties.write_text(PARTIES_CSV, encoding="utf-8")
    offerings = write_jsonl(
        tmp_path / "offerings.jsonl",
        [
            offering(1, provider_email="programmes@test-org.org"),
            offering(2),
            offering(3, provider_id="other"),
        ],
    )
    with session_scope(sessions) as session:
        load_files(session, [parties, offerings])
    with sessions() as session:
        kenya, peru = session.get(Party, "KEN"), session.get(Party, "PER")
        assert kenya is not None and kenya.email == "focal.point@environment.go.ke"
        assert peru is not None and peru.email is None
        provider = session.get(Provider, "test-org")
        assert provider is not None and provider.email == "programmes@test-org.org"
    original = export_all(sessions, file_format)
    records = [line for line in original["offerings"].splitlines() if "offering-" in line]
    assert sum("programmes@test-org.org" in line for line in records) == 2  # on both of its offerings
    paths = []
    for kind, text in original.items():
        path = tmp_path / f"export-{kind}.{file_format}"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    with session_scope(copy_sessions) as session:
        load_files(session, paths)
    assert export_all(copy_sessions, file_format) == original
    with session_scope(sessions) as session:  # the same files again change nothing
        report = load_files(session, paths)
    assert not report.changed, report.lines()


def test_the_last_non_empty_provider_email_wins(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    first = write_jsonl(
        tmp_path / "first.jsonl",
        [offering(1, provider_email="old@test-org.org"), offering(2, provider_email="new@test-org.org")],
    )
    with session_scope(sessions) as session:
        load_files(session, [first])
    with sessions() as session:
        assert session.get(Provider, "test-org").email == "new@test-org.org"  # type: ignore[union-attr]
    # A later file without the column keeps the address; one with a new address replaces it.
    with session_scope(sessions) as session:
        report = load_files(session, [write_jsonl(tmp_path / "none.jsonl", [offering(1), offering(2)])])
    assert str(report.counts["providers"]) == "0 created, 0 updated, 1 unchanged"
    with session_scope(sessions) as session:
        report = load_files(
            session, [write_jsonl(tmp_path / "new.jsonl", [offering(1, provider_email="Desk@Test-Org.org")])]
        )
    assert str(report.counts["providers"]) == "0 created, 1 updated, 0 unchanged"
    with sessions() as session:
        assert session.get(Provider, "test-org").email == "desk@test-org.org"  # type: ignore[union-attr]


def test_a_bad_address_is_a_line_error_and_nothing_is_written(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [offering(1, provider_email="ok@test-org.org"), offering(2, provider_email="desk at test-org")],
    )
    parties = tmp_path / "parties.csv"
    parties.write_text(
        PARTIES_CSV.replace("Focal.Point@Environment.GO.KE", "focal@point@ke"), encoding="utf-8"
    )
    with session_scope(sessions) as session, pytest.raises(ImportRejected) as rejected:
        load_files(session, [path, parties])
    messages = [str(error) for error in rejected.value.errors]
    assert messages == [
        f"{path}:2: provider_email: 'desk at test-org' is not an e-mail address: "
        "write it as name@example.org",
        f"{parties}:2: email: 'focal@point@ke' is not an e-mail address: write it as name@example.org",
    ]
    with sessions() as session:
        assert session.get(Provider, "test-org") is None


@pytest.mark.parametrize(
    "text",
    [
        "name@example",
        "name@-example.org",
        "name..x@example.org",
        ".name@example.org",
        "a b@example.org",
        "name@example.123",
        "name@exa_mple.org",
        "x" * 65 + "@example.org",
        "@example.org",
        "name@",
    ],
)
def test_the_address_check_is_strict(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not an e-mail address|cannot be empty"):
        normalize_email(text)


def test_plain_addresses_pass_lower_cased() -> None:
    assert normalize_email(" Ana.Pérez+mercury@Ministerio.gob.pe ".replace("é", "e")) == (
        "ana.perez+mercury@ministerio.gob.pe"
    )
    assert normalize_email("o'brien@xn--mnchen-3ya.de") == "o'brien@xn--mnchen-3ya.de"
