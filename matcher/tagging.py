"""Keyword tagger: which sectors and assistance types a need's text talks about.

It matches the taxonomy's six-language keywords against the need text. Matching is
tolerant of inflection without a stemmer: text and keywords are normalised (NFKC,
lower case, accents and other combining marks dropped, Arabic tatweel removed), and a
keyword word matches a text word that starts with the keyword word's stem (its first
``len - 2`` letters, at least 4). Chinese keywords (no spaces) match as substrings.
All keyword words must occur within a short window of the text.

Tags it infers are *inferred*, never stated: callers keep them apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from matcher.taxonomy import Taxonomy

_WORD = re.compile(r"\w+", re.UNICODE)
_ARABIC_MARKS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_HAN = re.compile(r"[\u3400-\u9fff]")
# Words too common in this domain to count as evidence on their own.
_GENERIC_WORDS = frozenset(
    [
        "mercury",
        "mercure",
        "mercurio",
        "ртуть",
        "ртути",
        "الزئبق",
        "the",
        "of",
        "and",
        "de",
        "la",
        "le",
        "les",
        "du",
        "des",
        "et",
        "el",
        "los",
        "las",
        "y",
        "en",
    ]
)


def normalise(text: str) -> str:
    """NFKC, lower case, combining marks dropped (é → e, й → и, أ → ا), Arabic tatweel
    and vowel marks removed. Applied alike to texts and keywords, so folding is safe."""
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text).lower())
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(char for char in decomposed if not unicodedata.combining(char))
    )


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


def _stem(word: str) -> str:
    return word if len(word) <= 4 else word[: max(4, len(word) - 2)]


@dataclass(frozen=True)
class _Keyword:
    code: str
    family: str
    language: str
    text: str
    stems: tuple[str, ...]
    han: str | None


@dataclass
class TagEvidence:
    """Inferred codes with their strength (number of distinct keywords matched) and the
    keywords that matched, per code."""

    sectors: dict[str, float] = field(default_factory=dict)
    assistance_types: dict[str, float] = field(default_factory=dict)
    matched_keywords: dict[str, list[str]] = field(default_factory=dict)

    def codes(self, family: str, minimum: float = 1.0) -> tuple[str, ...]:
        scores: dict[str, float] = getattr(self, family)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return tuple(code for code, score in ranked if score >= minimum)


class KeywordTagger:
    """Infers sector and assistance-type codes from text using taxonomy keywords.

    ``window`` bounds how far apart the words of a multi-word keyword may be.
    """

    def __init__(self, taxonomy: Taxonomy, window: int = 3) -> None:
        self.window = window
        self._keywords: list[_Keyword] = []
        for family in ("sectors", "assistance_types"):
            for code in getattr(taxonomy, family).values():
                # Labels are good keywords too (the form's own wording).
                sources = {
                    lang: (*words_, code.label.get(lang, "")) for lang, words_ in code.keywords.items()
                }
                for language, keywords in sources.items():
                    for keyword in keywords:
                        entry = self._compile(code.code, family, language, keyword)
                        if entry is not None:
                            self._keywords.append(entry)

    @staticmethod
    def _compile(code: str, family: str, language: str, keyword: str) -> _Keyword | None:
        normalised = normalise(keyword).strip()
        if not normalised:
            return None
        if _HAN.search(normalised):
            return _Keyword(code, family, language, keyword, (), normalised.replace(" ", ""))
        stems = tuple(_stem(word) for word in _WORD.findall(normalised) if word not in _GENERIC_WORDS)
        if not stems:
            return None
        return _Keyword(code, family, language, keyword, stems, None)

    def tag(self, text: str) -> TagEvidence:
        normalised = normalise(text)
        text_words = _WORD.findall(normalised)
        compact = normalised.replace(" ", "")
        positions: dict[str, list[int]] = {}
        evidence = TagEvidence()
        seen: set[tuple[str, str]] = set()
        for keyword in self._keywords:
            if keyword.han is not None:
                found = keyword.han in compact
            else:
                found = self._words_near(keyword.stems, text_words, positions)
            if not found or (keyword.code, normalise(keyword.text)) in seen:
                continue
            seen.add((keyword.code, normalise(keyword.text)))
            scores: dict[str, float] = getattr(evidence, keyword.family)
            scores[keyword.code] = scores.get(keyword.code, 0.0) + 1.0
            evidence.matched_keywords.setdefault(keyword.code, []).append(keyword.text)
        return evidence

    def _words_near(self, stems: tuple[str, ...], text_words: list[str], cache: dict[str, list[int]]) -> bool:
        hits: list[list[int]] = []
        for stem in stems:
            if stem not in cache:
                cache[stem] = [i for i, word in enumerate(text_words) if word.startswith(stem)]
            if not cache[stem]:
                return False
            hits.append(cache[stem])
        if len(hits) == 1:
            return True
        span = self.window + len(stems)
        return any(
            all(any(abs(p - start) <= span for p in others) for others in hits[1:]) for start in hits[0]
        )


def merge_codes(*groups: Iterable[str]) -> tuple[str, ...]:
    """Union of code groups in first-seen order."""
    return tuple(dict.fromkeys(code for group in groups for code in group))
