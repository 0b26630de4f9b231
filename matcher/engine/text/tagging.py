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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.taxonomy import Taxonomy

# (code, keyword as written in the taxonomy) -> the English keyword closest in meaning
Glossary = Mapping[tuple[str, str], str]

_WORD = re.compile(r"\w+", re.UNICODE)
_ARABIC_MARKS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_HAN = re.compile(r"[\u3400-\u9fff]")
# Function words, dropped from keywords before matching.
_FUNCTION_WORDS = frozenset(
    [
        "the",
        "of",
        "and",
        "for",
        "in",
        "on",
        "to",
        "a",
        "an",
        "de",
        "la",
        "le",
        "les",
        "du",
        "des",
        "d",
        "l",
        "et",
        "el",
        "los",
        "las",
        "y",
        "en",
        "del",
        "al",
        "para",
        "con",
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


def _stem(word: str) -> str:
    return word if len(word) <= 4 else word[: max(4, len(word) - 2)]


# The Convention's own subject: every need mentions it, so a keyword that is only this word
# says nothing, but inside a phrase ("mercury mine") it is required.
_DOMAIN_STEMS = frozenset(
    _stem(word) for word in ("mercury", "mercure", "mercurio", "ртуть", "ртути", "الزئبق")
)


@dataclass(frozen=True)
class _Keyword:
    code: str
    family: str
    language: str
    text: str
    stems: tuple[str, ...]
    han: str | None


@dataclass(frozen=True)
class TagEvidence:
    """Inferred codes with their strength (number of distinct places a keyword of the code
    matched) and the keywords that matched, per code.

    Filled by ``KeywordTagger.tag`` and read-only from then on: a prepared need query shares
    one evidence between ranking, explanations, coaching and the pages."""

    sectors: dict[str, float] = field(default_factory=dict)
    assistance_types: dict[str, float] = field(default_factory=dict)
    matched_keywords: dict[str, list[str]] = field(default_factory=dict)

    def codes(self, family: str, minimum: float = 1.0) -> tuple[str, ...]:
        scores: dict[str, float] = getattr(self, family)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return tuple(code for code, score in ranked if score >= minimum)


class KeywordTagger:
    """Infers sector and assistance-type codes from text using taxonomy keywords.

    ``window`` bounds how many other words may sit between the words of a multi-word
    keyword. A code's strength counts the distinct places in the text where one of its
    keywords matched, so the same phrase matched by an English and a French keyword
    counts once. Keywords are indexed by the stem of their first word, so tagging costs
    a few dictionary lookups per text word rather than a scan of every keyword.
    """

    def __init__(self, taxonomy: Taxonomy, window: int = 1) -> None:
        self.window = window
        self._by_stem: dict[str, list[_Keyword]] = {}
        self._han: list[tuple[str, _Keyword]] = []  # (normalised Han keyword, keyword)
        seen: set[tuple[str, str, tuple[str, ...], str | None]] = set()
        for family in ("sectors", "assistance_types"):
            for code in getattr(taxonomy, family).values():
                # Labels are good keywords too (the form's own wording).
                sources = {
                    lang: (*words_, code.label.get(lang, "")) for lang, words_ in code.keywords.items()
                }
                for language, keywords in sources.items():
                    for keyword in keywords:
                        entry = self._compile(code.code, family, language, keyword)
                        if entry is None or (entry.code, language, entry.stems, entry.han) in seen:
                            continue
                        seen.add((entry.code, language, entry.stems, entry.han))
                        if entry.han is not None:
                            self._han.append((entry.han, entry))
                        else:
                            self._by_stem.setdefault(entry.stems[0], []).append(entry)
        self._stem_lengths = sorted({len(stem) for stem in self._by_stem})

    @staticmethod
    def _compile(code: str, family: str, language: str, keyword: str) -> _Keyword | None:
        normalised = normalise(keyword).strip()
        if not normalised:
            return None
        if _HAN.search(normalised):
            return _Keyword(code, family, language, keyword, (), normalised.replace(" ", ""))
        stems = tuple(_stem(word) for word in _WORD.findall(normalised) if word not in _FUNCTION_WORDS)
        if not stems or (len(stems) == 1 and stems[0] in _DOMAIN_STEMS):
            return None
        return _Keyword(code, family, language, keyword, stems, None)

    def tag(self, text: str, language: str | None = None) -> TagEvidence:
        """Codes the text talks about. With ``language`` (the text's own), only that
        language's keywords count: an English stem such as "dispos" (disposal) must not
        fire on the French "ne dispose pas de"."""
        normalised = normalise(text)
        text_words = _WORD.findall(normalised)
        evidence = TagEvidence()
        places: dict[str, set[int]] = {}
        for position, word in enumerate(text_words):
            for length in self._stem_lengths:
                if length > len(word):
                    break
                for keyword in self._by_stem.get(word[:length], ()):
                    if language is not None and keyword.language != language:
                        continue
                    if _stem_matches(keyword.stems[0], word) and self._rest_nearby(
                        keyword.stems, text_words, position
                    ):
                        _record(evidence, places, keyword, position)
        compact = normalised.replace(" ", "")
        for han, keyword in self._han:
            if language is not None and keyword.language != language:
                continue
            found = compact.find(han)
            if found >= 0:
                _record(evidence, places, keyword, -1 - found)
        return evidence

    def _rest_nearby(self, stems: tuple[str, ...], text_words: list[str], position: int) -> bool:
        """The keyword's other words appear, in any order, close around ``position``."""
        if len(stems) == 1:
            return True
        reach = (len(stems) - 1) * (self.window + 1)
        nearby = text_words[max(0, position - reach) : position + reach + 1]
        return all(any(_stem_matches(stem, word) for word in nearby) for stem in stems[1:])


def _record(evidence: TagEvidence, places: dict[str, set[int]], keyword: _Keyword, position: int) -> None:
    matched = evidence.matched_keywords.setdefault(keyword.code, [])
    if keyword.text not in matched:
        matched.append(keyword.text)
    spots = places.setdefault(keyword.code, set())
    if position in spots:
        return
    spots.add(position)
    scores: dict[str, float] = getattr(evidence, keyword.family)
    scores[keyword.code] = scores.get(keyword.code, 0.0) + 1.0


def _stem_matches(stem: str, word: str) -> bool:
    """A text word matches a keyword stem when it starts with it and adds at most a
    suffix's worth of letters ("mine" matches "mines" and "mining", not "mineralisation")."""
    return word.startswith(stem) and len(word) - len(stem) <= 5


def keyword_glossary(
    taxonomy: Taxonomy, encode: Callable[[Sequence[str]], np.ndarray]
) -> dict[tuple[str, str], str]:
    """The English counterpart of every non-English keyword (and label) of each code.

    The taxonomy's keyword lists are written per language and are not translations of one
    another, so each Arabic, Chinese, French, Russian or Spanish keyword is paired with the
    English keyword or label *of the same code* closest to it under ``encode``, a
    multilingual sentence encoder returning unit-length rows ("four à ciment" → "cement
    kiln", "有色金属冶炼" → "non-ferrous metals smelting"). Restricting the choice to the same
    code keeps a poor embedding from jumping to another subject.
    """
    families = (*taxonomy.sectors.values(), *taxonomy.assistance_types.values())
    phrases: dict[str, int] = {}
    plan: list[tuple[str, list[str], list[str]]] = []
    for code in families:
        by_language = {
            language: [*keywords, code.label.get(language, "")]
            for language, keywords in code.keywords.items()
        }
        english = [phrase for phrase in dict.fromkeys(by_language.get("en", ())) if phrase.strip()]
        others = [
            phrase
            for language, keywords in by_language.items()
            if language != "en"
            for phrase in dict.fromkeys(keywords)
            if phrase.strip() and phrase not in english  # "pesticides" needs no translation
        ]
        if english and others:
            plan.append((code.code, english, others))
            for phrase in (*english, *others):
                phrases.setdefault(phrase, len(phrases))
    if not phrases:
        return {}
    vectors = np.asarray(encode(list(phrases)), dtype=np.float32)
    glossary: dict[tuple[str, str], str] = {}
    for code_name, english, others in plan:
        similarity = vectors[[phrases[p] for p in others]] @ vectors[[phrases[p] for p in english]].T
        for phrase, best in zip(others, similarity.argmax(axis=1), strict=True):
            glossary[(code_name, phrase)] = english[int(best)]
    return glossary


def english_equivalents(evidence: TagEvidence, glossary: Glossary) -> list[str]:
    """English counterparts of the non-English keywords that matched, in match order."""
    found = (
        glossary.get((code, keyword))
        for code, keywords in evidence.matched_keywords.items()
        for keyword in keywords
    )
    return list(dict.fromkeys(phrase for phrase in found if phrase))
