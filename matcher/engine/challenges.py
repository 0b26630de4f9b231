"""Reading a statement of need as an assessment reads it: its challenge kind and whether it is vague.

Article 14(4) asks the Conference of the Parties to assess what Parties lack. A national-report
answer or a survey answer says what is missing; the **challenge kind** names it:

* ``capacity``: people and skills (untrained staff, turnover, missing specialists);
* ``financing``: money (budgets, grants, costs that cannot be met);
* ``technology-access``: things (equipment, instruments, alternatives, treatment facilities);
* ``information``: knowledge (data, inventories, surveys, awareness);
* ``institutional``: rules and organisation (law, mandates, coordination, enforcement).

``ChallengeReader.classify`` scores each kind by the cue phrases of the text's language found
in it (``catalog/data/challenge_kinds.json``: substrings of the lower-cased text, so stems
match inflected forms; weight 2 decides alone, 1 leans), adds a quarter of the same score of
the question answered (a question about capacities leans towards capacity), and takes the best.
Ties go to the kind named first in ``TIE_ORDER``. With no cue at all it falls back on the
assistance types the tagger inferred (training → capacity, ...), else it answers ``None``.

Measured on the 72-answer labelled sample (``matcher eval``; cues tuned on the odd-numbered
answers only, the even-numbered half held out): see the README's *Needs assessment*.

Vagueness is not decided here: ``statement_is_vague`` asks the request reader's own check
(``RequestReader.assess``), so a change to that check applies to answers too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from matcher.engine.domain import NeedProfile
from matcher.engine.understanding import Reading, RequestReader
from matcher.taxonomy import CHALLENGE_KINDS, bundled_catalog_dir

# Ties: money and things are named when they are what is missing; people and rules are the
# usual background of an answer, so they lose a tie.
TIE_ORDER: tuple[str, ...] = ("financing", "technology-access", "information", "institutional", "capacity")
QUESTION_WEIGHT = 0.25
# What a survey respondent can tick as missing, and the kind each one is.
MISSING_ITEMS: tuple[str, ...] = ("equipment", "skills", "financing", "infrastructure", "data")
# The survey form's words for what can be missing, in the six UN languages ("missing" and
# "sources" introduce the lists in a response's text).
MISSING_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "equipment": "equipment",
        "skills": "skills",
        "financing": "financing",
        "infrastructure": "infrastructure",
        "data": "data",
        "missing": "Missing",
        "sources": "Sources and technologies concerned",
    },
    "fr": {
        "equipment": "équipements",
        "skills": "compétences",
        "financing": "financement",
        "infrastructure": "infrastructures",
        "data": "données",
        "missing": "Ce qui manque",
        "sources": "Sources et technologies concernées",
    },
    "es": {
        "equipment": "equipos",
        "skills": "conocimientos",
        "financing": "financiamiento",
        "infrastructure": "infraestructura",
        "data": "datos",
        "missing": "Lo que falta",
        "sources": "Fuentes y tecnologías de que se trata",
    },
    "ar": {
        "equipment": "المعدات",
        "skills": "المهارات",
        "financing": "التمويل",
        "infrastructure": "البنية التحتية",
        "data": "البيانات",
        "missing": "ما ينقص",
        "sources": "المصادر والتكنولوجيات المعنية",
    },
    "ru": {
        "equipment": "оборудование",
        "skills": "навыки",
        "financing": "финансирование",
        "infrastructure": "инфраструктура",
        "data": "данные",
        "missing": "Чего не хватает",
        "sources": "Источники и технологии",
    },
    "zh": {
        "equipment": "设备",
        "skills": "技能",
        "financing": "资金",
        "infrastructure": "基础设施",
        "data": "数据",
        "missing": "缺少",
        "sources": "涉及的来源和技术",
    },
}


def missing_label(item: str, language: str) -> str:
    """The survey's word for a missing item (or the list headings), English when absent."""
    return MISSING_LABELS.get(language, MISSING_LABELS["en"]).get(item) or MISSING_LABELS["en"].get(
        item, item
    )


_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي"})


def normalise(text: str) -> str:
    """Lower case, NFC, Arabic short vowels and tatweel removed, alef forms merged, ё → е,
    typographic apostrophes made plain: what cue matching compares."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_ALEF)
    return text.replace("ё", "е").replace("\u2019", "'")


@dataclass(frozen=True)
class ChallengeKind:
    code: str
    label: dict[str, str]
    definition: dict[str, str]
    assistance_type: str
    missing: tuple[str, ...]
    cues: dict[str, tuple[tuple[str, float], ...]]

    def label_in(self, language: str) -> str:
        return self.label.get(language) or self.label["en"]


@dataclass(frozen=True)
class ChallengeReading:
    """The kind chosen (``None`` when nothing points anywhere), every kind's score and the
    cues that were found, for explanations."""

    kind: str | None
    scores: dict[str, float] = field(default_factory=dict)
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fallback: bool = False


def load_challenge_kinds(path: Path | None = None) -> dict[str, ChallengeKind]:
    path = path or bundled_catalog_dir() / "challenge_kinds.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    kinds = {}
    for entry in data["kinds"]:
        kinds[entry["code"]] = ChallengeKind(
            code=entry["code"],
            label=dict(entry["label"]),
            definition=dict(entry.get("definition", {})),
            assistance_type=entry["assistance_type"],
            missing=tuple(entry.get("missing", ())),
            cues={
                language: tuple((normalise(cue), float(weight)) for cue, weight in cues)
                for language, cues in entry["cues"].items()
            },
        )
    if tuple(kinds) != CHALLENGE_KINDS:
        raise ValueError(f"challenge kinds file lists {tuple(kinds)}, expected {CHALLENGE_KINDS}")
    return kinds


class ChallengeReader:
    """Challenge kind of a statement (pure text understanding; no store, no model)."""

    def __init__(self, kinds: Mapping[str, ChallengeKind] | None = None) -> None:
        self.kinds = dict(kinds or load_challenge_kinds())
        self._by_type = {kind.assistance_type: kind.code for kind in self.kinds.values()}
        self._by_missing = {item: kind.code for kind in self.kinds.values() for item in kind.missing}

    def _score(self, text: str, language: str | None) -> tuple[dict[str, float], dict[str, list[str]]]:
        normalised = normalise(text)
        scores: dict[str, float] = {}
        found: dict[str, list[str]] = {}
        for code, kind in self.kinds.items():
            # A text in an unknown language is read with every language's cues.
            cue_lists = [kind.cues.get(language, ())] if language in kind.cues else list(kind.cues.values())
            total = 0.0
            for cues in cue_lists:
                for cue, weight in cues:
                    if cue in normalised:
                        total += weight
                        found.setdefault(code, []).append(cue)
            scores[code] = total
        return scores, found

    def classify(
        self,
        text: str,
        language: str | None,
        *,
        question: str | None = None,
        assistance_types: Sequence[str] = (),
        missing: Sequence[str] = (),
    ) -> ChallengeReading:
        """The dominant challenge kind of ``text``. ``question``: the question it answers (its
        cues count a quarter); ``missing``: items a survey respondent ticked (each counts like
        a deciding cue); ``assistance_types``: the fallback when no cue is found."""
        scores, found = self._score(text, language)
        if question:
            asked, _ = self._score(question, language)
            for code, value in asked.items():
                scores[code] += QUESTION_WEIGHT * value
        for item in missing:
            if item in self._by_missing:
                scores[self._by_missing[item]] += 2.0
        best = max(scores.values(), default=0.0)
        cues = {code: tuple(dict.fromkeys(values)) for code, values in found.items()}
        if best > 0:
            kind = next(code for code in TIE_ORDER if scores[code] == best)
            return ChallengeReading(kind, scores, cues)
        for code in assistance_types:
            if code in self._by_type:
                return ChallengeReading(self._by_type[code], scores, cues, fallback=True)
        return ChallengeReading(None, scores, cues)

    def kind_for_missing(self, item: str) -> str | None:
        return self._by_missing.get(item)


@lru_cache(maxsize=1)
def default_challenge_reader() -> ChallengeReader:
    return ChallengeReader()


@dataclass(frozen=True)
class StatementReading:
    """One statement (an answer, a survey answer, a need) as the assessment reads it."""

    reading: Reading
    vague: bool
    challenge: ChallengeReading

    @property
    def language(self) -> str | None:
        return self.reading.language

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.reading.language,
            "sectors": list(self.reading.inferred_sectors),
            "assistance_types": list(self.reading.inferred_assistance_types),
            "vague": self.vague,
            "challenge_kind": self.challenge.kind,
        }


def statement_is_vague(reader: RequestReader, profile: NeedProfile, reading: Reading | None = None) -> bool:
    """The one vague check of the product (``RequestReader.assess``), for any statement."""
    return reader.assess(profile, reading.evidence if reading is not None else None).vague


def assess_statement(
    reader: RequestReader,
    profile: NeedProfile,
    reading: Reading,
    *,
    question: str | None = None,
    missing: Sequence[str] = (),
    challenges: ChallengeReader | None = None,
) -> tuple[bool, ChallengeReading]:
    """The vague flag and the challenge kind of a statement already read (``reading`` is
    ``reader.read`` of ``profile``'s text: nothing is tagged twice)."""
    challenges = challenges or default_challenge_reader()
    vague = statement_is_vague(reader, profile, reading)
    challenge = challenges.classify(
        profile.text,
        reading.language,
        question=question,
        assistance_types=(*profile.assistance_types, *reading.inferred_assistance_types),
        missing=missing,
    )
    return vague, challenge


def read_statement(
    text: str,
    language: str | None = None,
    *,
    question: str | None = None,
    sectors: Sequence[str] = (),
    assistance_types: Sequence[str] = (),
    missing: Sequence[str] = (),
    reader: RequestReader,
    challenges: ChallengeReader | None = None,
) -> StatementReading:
    """Language, codes (stated ones kept apart), the vague flag and the challenge kind of a
    statement, from one tagging of its text. ``question`` leans the challenge kind only: it
    never gives codes (a question about ASGM answered "see our last report" is not about ASGM)."""
    reading = reader.read("", text, language, sectors, assistance_types)
    profile = NeedProfile(
        id="statement",
        party="",
        title="",
        description=text,
        language=reading.language,
        sectors=tuple(sectors),
        assistance_types=tuple(assistance_types),
        inferred_sectors=reading.inferred_sectors,
        inferred_assistance_types=reading.inferred_assistance_types,
    )
    vague, challenge = assess_statement(
        reader, profile, reading, question=question, missing=missing, challenges=challenges
    )
    return StatementReading(reading, vague, challenge)
