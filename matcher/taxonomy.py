"""The controlled vocabulary: taxonomy codes (sectors, assistance types, regions,
languages) with six-language labels and keywords, plus the enumerations of the
interchange format that live outside the taxonomy file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

UN_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")
# The sector of general implementation (ratification, legislation, institutions): a catch-all,
# never evidence that a need names a subject.
GENERAL_SECTOR = "cross-cutting"

PROVIDER_KINDS: tuple[str, ...] = (
    "financial-mechanism",
    "gef-agency",
    "un-body",
    "secretariat",
    "donor",
    "regional-centre",
    "partnership",
    "ngo",
    "academic",
    "intergovernmental",
)
PARTY_STATUSES: tuple[str, ...] = ("developing", "transition", "developed")
NEED_STATUSES: tuple[str, ...] = ("draft", "submitted", "in_review", "matched", "closed", "withdrawn")
OPEN_NEED_STATUSES: tuple[str, ...] = ("submitted", "in_review")
FINAL_NEED_STATUSES: tuple[str, ...] = ("withdrawn", "closed")  # a need in these can no longer change
API_ROLES: tuple[str, ...] = ("party", "provider", "secretariat", "admin")
MATCH_STATES: tuple[str, ...] = ("proposed", "accepted", "rejected", "introduced", "closed")
# What came of an introduction, recorded by the secretariat.
OUTCOMES: tuple[str, ...] = ("agreed", "funded", "declined", "no-response")
# What a statement of need says is missing (matcher/engine/challenges.py reads it).
CHALLENGE_KINDS: tuple[str, ...] = (
    "capacity",
    "financing",
    "technology-access",
    "information",
    "institutional",
)
# Where a statement of need came from: a national report (Article 21) or a needs survey.
ANSWER_SOURCES: tuple[str, ...] = ("report", "survey")


@dataclass(frozen=True)
class Code:
    """One taxonomy entry (a sector, an assistance type, a region or a sub-sector).

    ``subsectors`` (sectors only, optional in the file) are the industries or activities a
    sector covers, each a ``Code`` of its own with a ``parent`` and a code written
    ``sector/name`` (``emissions/non-ferrous-smelting``): labels and keywords in six
    languages, no definition."""

    code: str
    label: dict[str, str]
    definition: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    articles: tuple[str, ...] = ()
    subsectors: dict[str, Code] = field(default_factory=dict)
    parent: str | None = None

    def label_in(self, language: str) -> str:
        return self.label.get(language) or self.label.get("en") or self.code


@dataclass(frozen=True)
class Taxonomy:
    version: str
    languages: tuple[str, ...]
    regions: dict[str, Code]
    sectors: dict[str, Code]
    assistance_types: dict[str, Code]

    @property
    def subsectors(self) -> dict[str, Code]:
        """Every sector's sub-sectors by code, in file order (empty for a taxonomy without)."""
        return {code: entry for sector in self.sectors.values() for code, entry in sector.subsectors.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Taxonomy:
        def codes(entries: list[dict[str, Any]], parent: str | None = None) -> dict[str, Code]:
            return {
                entry["code"]: Code(
                    code=entry["code"],
                    label=dict(entry.get("label", {})),
                    definition=dict(entry.get("definition", {})),
                    keywords={lang: tuple(words) for lang, words in entry.get("keywords", {}).items()},
                    articles=tuple(entry.get("articles", ())),
                    subsectors=codes(entry.get("subsectors", ()), entry["code"]),
                    parent=parent,
                )
                for entry in entries
            }

        return cls(
            version=str(data.get("version", "")),
            languages=tuple(lang["code"] for lang in data["languages"]),
            regions=codes(data["regions"]),
            sectors=codes(data["sectors"]),
            assistance_types=codes(data["assistance_types"]),
        )

    @classmethod
    def from_file(cls, path: Path) -> Taxonomy:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def allowed(self, family: str) -> tuple[str, ...]:
        """Allowed codes of one family: sectors, assistance_types, regions or languages."""
        if family == "languages":
            return self.languages
        return tuple(getattr(self, family))


def bundled_catalog_dir() -> Path:
    """Folder of the reference data shipped inside the `catalog` package."""
    return Path(str(resources.files("catalog") / "data"))


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """The bundled taxonomy (read once per process; it is immutable)."""
    return Taxonomy.from_file(bundled_catalog_dir() / "taxonomy.json")
