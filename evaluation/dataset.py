"""A labelled evaluation set: offerings, needs, graded judgments and parties.

Files use the interchange format (the same validation as ``matcher catalog load``; a bad
row aborts with ``FILE:LINE: field: message``). Two fields the importer ignores are read
here because they are labels, never inputs: a need's ``vague`` flag, and the stated
``sectors``/``assistance_types`` (kept as the tagger's gold standard).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from catalog.files import ImportRejected, read_history, read_sources
from catalog.rows import HistoryRow, NeedRow, OfferingRow, PartyRow
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.history import Declined, PastNeed
from matcher.taxonomy import bundled_catalog_dir

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_NEEDS = DATA_DIR / "dev_needs.jsonl"
DEFAULT_QRELS = DATA_DIR / "dev_qrels.json"
REQUEST_NEEDS = DATA_DIR / "requests.jsonl"  # the team's multilingual request set (REQUESTS.md)
REQUEST_QRELS = DATA_DIR / "requests_qrels.json"
EXAMPLE_NEEDS = DATA_DIR / "understanding_examples.jsonl"  # written with the vague definition
DEFAULT_HISTORY = DATA_DIR / "dev_history.jsonl"
DEFAULT_GROUPS = DATA_DIR / "dev_groups.json"


def default_offerings() -> Path:
    return bundled_catalog_dir() / "offerings.jsonl"


def default_parties() -> Path:
    return bundled_catalog_dir() / "parties.csv"


@dataclass
class LabelledSet:
    offerings: list[OfferingProfile]
    needs: list[NeedProfile]
    parties: dict[str, PartyProfile]
    qrels: dict[str, dict[str, int]]
    vague: dict[str, bool]
    party_names: dict[str, str] = field(default_factory=dict)

    @property
    def judged_needs(self) -> list[NeedProfile]:
        """The needs that have at least one judgment (the ones metrics average over)."""
        return [need for need in self.needs if self.qrels.get(need.id)]


@dataclass(frozen=True)
class UnderstandingCase:
    """A need with the labels of request understanding: the ``vague`` flag and the gold codes
    (``expected_sectors`` / ``expected_assistance_types`` where the file has them, as the
    request set does; the stated codes otherwise, as in the dev set)."""

    need: NeedProfile
    vague: bool
    sectors: tuple[str, ...]
    assistance_types: tuple[str, ...]


def load_understanding_cases(path: Path) -> list[UnderstandingCase]:
    """The needs of a JSON Lines file (validated like any import) with their labels."""
    rows: list[NeedRow] = _read(path, "needs")
    labels = {
        str(record.get("id")): record
        for record in map(json.loads, filter(str.strip, path.read_text(encoding="utf-8").splitlines()))
    }
    cases = []
    for row in rows:
        label = labels[row.id]
        cases.append(
            UnderstandingCase(
                need=need_of(row),
                vague=bool(label.get("vague", False)),
                sectors=tuple(label.get("expected_sectors", row.sectors)),
                assistance_types=tuple(label.get("expected_assistance_types", row.assistance_types)),
            )
        )
    return cases


def _read(path: Path, kind: str) -> list:
    good, _, errors, _ = read_sources([path], kind=kind)  # type: ignore[arg-type]
    if errors:
        raise ImportRejected(errors)
    return [source.row for source in good]


def _vague_labels(path: Path) -> dict[str, bool]:
    """The ``vague`` label of each need (JSON Lines only; absent means not vague)."""
    labels: dict[str, bool] = {}
    if path.suffix.lower() not in (".jsonl", ".json"):
        return labels
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            labels[str(record.get("id"))] = bool(record.get("vague", False))
    return labels


def load_labelled_set(
    offerings: Path | None = None,
    needs: Path | None = None,
    qrels: Path | None = None,
    parties: Path | None = None,
) -> LabelledSet:
    offering_rows: list[OfferingRow] = _read(offerings or default_offerings(), "offerings")
    need_rows: list[NeedRow] = _read(needs or DEFAULT_NEEDS, "needs")
    party_rows: list[PartyRow] = _read(parties or default_parties(), "parties")
    judgments = json.loads((qrels or DEFAULT_QRELS).read_text(encoding="utf-8"))
    party_profiles = {
        row.iso3: PartyProfile(
            iso3=row.iso3, region=row.un_region, status=row.status, ldc=row.ldc, sids=row.sids
        )
        for row in party_rows
    }
    missing = sorted({row.party for row in need_rows} - set(party_profiles))
    if missing:
        raise ValueError(f"needs name parties missing from the party list: {', '.join(missing)}")
    need_profiles = [need_of(row) for row in need_rows]
    labels = _vague_labels(needs or DEFAULT_NEEDS)
    return LabelledSet(
        offerings=[OfferingProfile.from_record(row) for row in offering_rows],
        needs=need_profiles,
        parties=party_profiles,
        qrels={str(need): {str(o): int(g) for o, g in grades.items()} for need, grades in judgments.items()},
        vague={need.id: labels.get(need.id, False) for need in need_profiles},
        party_names={row.iso3: row.name_en for row in party_rows},
    )


def need_of(row: NeedRow) -> NeedProfile:
    return NeedProfile(
        id=row.id,
        party=row.party,
        title=row.title,
        description=row.description,
        language=row.language,
        sectors=tuple(row.sectors),
        assistance_types=tuple(row.assistance_types),
        budget_usd=row.budget_usd,
    )


def load_groups(path: Path | None) -> dict[str, str]:
    """``{need_id: case group}`` (``dev_groups.json``'s shape); an absent file: no groups."""
    if path is None or not path.is_file():
        return {}
    return {str(key): str(value) for key, value in json.loads(path.read_text(encoding="utf-8")).items()}


def load_history(path: Path, data: LabelledSet, groups: dict[str, str]) -> list[PastNeed]:
    """Past needs of a history file (the ``matcher history load`` format) as the engine's
    records, each with its case group (``groups``, else its own id). Raises ``ImportRejected``
    for a bad line, ``ValueError`` for a Party missing from the set's party list."""
    sources, errors, _ = read_history([path])
    if errors:
        raise ImportRejected(errors)
    rows: list[HistoryRow] = [source.row for source in sources]
    missing = sorted({row.party for row in rows} - set(data.parties))
    if missing:
        raise ValueError(f"history names parties missing from the party list: {', '.join(missing)}")
    return [
        PastNeed(
            need=need_of(row),
            party=data.parties[row.party],
            country=data.party_names.get(row.party, row.party),
            served=tuple(row.served_by),
            declined=tuple(Declined(item.offering_id, item.reason) for item in row.declined),
            year=row.year,
            group=groups.get(row.id, row.id),
            sectors=tuple(row.sectors),
        )
        for row in rows
    ]
