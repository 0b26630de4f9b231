"""Keyword tagger: which sectors, sub-sectors and assistance types a need's text talks about.

It matches the taxonomy's six-language keywords against the need text. Matching is
tolerant of inflection without a stemmer: text and keywords are normalised alike (NFKC,
lower case, accents and other combining marks dropped, Arabic tatweel removed, Arabic
proclitics and the article stripped: و ف ب ك ل with ال, so "بالزئبق" and "الزئبق" both read
"زيبق"), and a keyword word matches a text word that starts with the keyword word's stem (its
first ``len - 2`` letters, at least 4) and adds at most five letters. A short Latin-script
word (four letters or fewer) takes only a plural ending: "mine" matches "mines", never
"miners". Chinese keywords (no spaces) match as substrings.

The words of a multi-word keyword must occur, in any order, within a short window of the
text (word after word, as written, when one of them is mercury itself: "mercury mining" is a
primary mine, "mining with mercury" is gold mining), counted in *content* words: function words of the six languages ("à", "la", "de",
"и", "في") are skipped, so "mesures à la cheminée" is as close as "mesures cheminée", and a
phrase split by a coordination ("медеплавильные и цинковые заводы") still matches.

A sub-sector keyword (``Code.subsectors``) is evidence for its sub-sector and for the
sector above it. Tags it infers are *inferred*, never stated: callers keep them apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.engine.text.lexical import STOPWORDS_BY_LANGUAGE
from matcher.taxonomy import Code, Taxonomy

# (code, keyword as written in the taxonomy) -> the English keyword closest in meaning
Glossary = Mapping[tuple[str, str], str]

FAMILIES = ("sectors", "subsectors", "assistance_types")

_WORD = re.compile(r"\w+", re.UNICODE)
_ARABIC_MARKS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_ARABIC_LETTERS = str.maketrans({"\u0649": "\u064a", "\u0629": "\u0647"})  # ى → ي, ة → ه
_ARABIC_WORD = re.compile(r"^[\u0621-\u064a]+$")
# Light stemming's proclitics (Larkey et al.'s "light10"): a leading و on words longer than
# three letters, then the article with its prepositions, if two letters remain.
_ARABIC_ARTICLES = ("وال", "فال", "بال", "كال", "ولل", "لل", "ال")
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"^[a-z0-9]+$")
_PLURAL_ENDINGS = ("", "s", "es", "x")


def normalise(text: str) -> str:
    """NFKC, lower case, combining marks dropped (é → e, й → и, أ → ا), Arabic tatweel
    and vowel marks removed, ى → ي and ة → ه. Applied alike to texts and keywords, so
    folding is safe."""
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text).lower())
    decomposed = unicodedata.normalize("NFD", text)
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", folded).translate(_ARABIC_LETTERS)


def _strip_arabic(word: str) -> str:
    if not _ARABIC_WORD.match(word):
        return word
    if len(word) > 3 and word.startswith("و"):
        word = word[1:]
    for article in _ARABIC_ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            return word[len(article) :]
    return word


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (Arabic proclitics stripped), function words included."""
    return [_strip_arabic(word) for word in _WORD.findall(normalise(text))]


FUNCTION_WORDS = frozenset(
    word for listing in STOPWORDS_BY_LANGUAGE.values() for item in listing.split() for word in words(item)
)
_RUN = re.compile(r"\w+(?:-\w+)*", re.UNICODE)  # a word, or a hyphenated compound


def content_words(text: str) -> list[str]:
    """``words`` without the function words of the six languages; the parts of a hyphenated
    compound are all kept ("by-product", "clean-up")."""
    kept: list[str] = []
    for run in _RUN.findall(normalise(text)):
        parts = [_strip_arabic(part) for part in _WORD.findall(run)]
        kept.extend(parts if len(parts) > 1 else (part for part in parts if part not in FUNCTION_WORDS))
    return kept


def _stem(word: str) -> str:
    return word if len(word) <= 4 else word[: max(4, len(word) - 2)]


# The Convention's own subject: every need mentions it, so a keyword that is only this word
# says nothing, but inside a phrase ("mercury mine") it is required.
_DOMAIN_STEMS = frozenset(
    _stem(word)
    for term in ("mercury", "mercure", "mercurio", "ртуть", "ртути", "الزئبق")
    for word in words(term)
)


@dataclass(frozen=True)
class _Keyword:
    code: str
    family: str
    parent: str | None  # the sector of a sub-sector keyword
    language: str
    text: str
    stems: tuple[str, ...]
    han: str | None
    short: tuple[bool, ...] = ()  # per stem: a short Latin-script word kept whole (plural endings only)
    ordered: bool = False  # a phrase naming mercury itself matches only in its own word order


@dataclass(frozen=True)
class TagEvidence:
    """Inferred codes with their strength (number of distinct places a keyword of the code
    matched) and the keywords that matched, per code.

    ``subsectors`` holds sub-sector codes (``emissions/cement``); a sub-sector keyword also
    counts for its sector, and is listed under both codes in ``matched_keywords``.
    Filled by ``KeywordTagger.tag`` and read-only from then on: a prepared need query shares
    one evidence between ranking, explanations, coaching and the pages."""

    sectors: dict[str, float] = field(default_factory=dict)
    assistance_types: dict[str, float] = field(default_factory=dict)
    matched_keywords: dict[str, list[str]] = field(default_factory=dict)
    subsectors: dict[str, float] = field(default_factory=dict)

    def codes(self, family: str, minimum: float = 1.0) -> tuple[str, ...]:
        scores: dict[str, float] = getattr(self, family)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return tuple(code for code, score in ranked if score >= minimum)


class KeywordTagger:
    """Infers sector, sub-sector and assistance-type codes from text using taxonomy keywords.

    ``window`` bounds how many other content words may sit between the words of a
    multi-word keyword. A code's strength counts the distinct places in the text where one
    of its keywords matched, so the same phrase matched by an English and a French keyword
    counts once. Keywords are indexed by the stem of their first word, so tagging costs
    a few dictionary lookups per text word rather than a scan of every keyword.
    """

    def __init__(self, taxonomy: Taxonomy, window: int = 1) -> None:
        self.window = window
        self._by_stem: dict[str, list[_Keyword]] = {}
        self._han: list[tuple[str, _Keyword]] = []  # (normalised Han keyword, keyword)
        seen: set[tuple[str, str, tuple[str, ...], str | None]] = set()
        entries: list[tuple[str, Code]] = [
            *(("sectors", code) for code in taxonomy.sectors.values()),
            *(("subsectors", code) for code in taxonomy.subsectors.values()),
            *(("assistance_types", code) for code in taxonomy.assistance_types.values()),
        ]
        for family, code in entries:
            # Labels are good keywords too (the form's own wording).
            sources = {lang: (*words_, code.label.get(lang, "")) for lang, words_ in code.keywords.items()}
            for language, keywords in sources.items():
                for keyword in keywords:
                    entry = self._compile(code, family, language, keyword)
                    if entry is None or (entry.code, language, entry.stems, entry.han) in seen:
                        continue
                    seen.add((entry.code, language, entry.stems, entry.han))
                    if entry.han is not None:
                        self._han.append((entry.han, entry))
                    else:
                        self._by_stem.setdefault(entry.stems[0], []).append(entry)
        self._stem_lengths = sorted({len(stem) for stem in self._by_stem})

    @staticmethod
    def _compile(code: Code, family: str, language: str, keyword: str) -> _Keyword | None:
        normalised = normalise(keyword).strip()
        if not normalised:
            return None
        if _HAN.search(normalised):
            return _Keyword(
                code.code, family, code.parent, language, keyword, (), normalised.replace(" ", "")
            )
        content = content_words(keyword)
        stems = tuple(_stem(word) for word in content)
        if not stems or (len(stems) == 1 and stems[0] in _DOMAIN_STEMS):
            return None
        short = tuple(len(word) <= 4 and bool(_LATIN.match(word)) for word in content)
        ordered = len(stems) > 1 and any(stem in _DOMAIN_STEMS for stem in stems)
        return _Keyword(code.code, family, code.parent, language, keyword, stems, None, short, ordered)

    def tag(self, text: str, language: str | None = None) -> TagEvidence:
        """Codes the text talks about. With ``language`` (the text's own), only that
        language's keywords count: an English stem such as "dispos" (disposal) must not
        fire on the French "ne dispose pas de"."""
        text_words = content_words(text)
        evidence = TagEvidence()
        places: dict[str, set[int]] = {}
        for position, word in enumerate(text_words):
            for length in self._stem_lengths:
                if length > len(word):
                    break
                for keyword in self._by_stem.get(word[:length], ()):
                    if language is not None and keyword.language != language:
                        continue
                    if _stem_matches(keyword.stems[0], word, keyword.short[0]) and self._rest_nearby(
                        keyword, text_words, position
                    ):
                        _record(evidence, places, keyword, position)
        compact = normalise(text).replace(" ", "")
        for han, keyword in self._han:
            if language is not None and keyword.language != language:
                continue
            found = compact.find(han)
            if found >= 0:
                _record(evidence, places, keyword, -1 - found)
        return evidence

    def _rest_nearby(self, keyword: _Keyword, text_words: list[str], position: int) -> bool:
        """The keyword's other words appear, in any order, close around ``position``."""
        stems = keyword.stems
        if len(stems) == 1:
            return True
        reach = (len(stems) - 1) * (self.window + 1)
        if keyword.ordered:
            # "mercury mining" (a primary mine) is not "mining with mercury" nor "miners off
            # mercury. Gold mining": such a phrase matches only as written, word after word.
            following = text_words[position + 1 : position + len(stems)]
            return len(following) == len(stems) - 1 and all(
                _stem_matches(stem, word, short)
                for stem, word, short in zip(stems[1:], following, keyword.short[1:], strict=True)
            )
        nearby = text_words[max(0, position - reach) : position + reach + 1]
        return all(
            any(_stem_matches(stem, word, short) for word in nearby)
            for stem, short in zip(stems[1:], keyword.short[1:], strict=True)
        )


def _record(evidence: TagEvidence, places: dict[str, set[int]], keyword: _Keyword, position: int) -> None:
    credits = [(keyword.code, keyword.family)]
    if keyword.parent is not None:
        credits.append((keyword.parent, "sectors"))
    for code, family in credits:
        matched = evidence.matched_keywords.setdefault(code, [])
        if keyword.text not in matched:
            matched.append(keyword.text)
        spots = places.setdefault(code, set())
        if position in spots:
            continue
        spots.add(position)
        scores: dict[str, float] = getattr(evidence, family)
        scores[code] = scores.get(code, 0.0) + 1.0


def _stem_matches(stem: str, word: str, short: bool = False) -> bool:
    """A text word matches a keyword stem when it starts with it and adds at most a
    suffix's worth of letters ("mining" matches "mining" and "mines", not "mineralisation");
    a ``short`` stem (a Latin-script keyword word of four letters or fewer, kept whole) takes
    only a plural ending ("mine" matches "mines", not "miners")."""
    if not word.startswith(stem):
        return False
    if short:
        return word[len(stem) :] in _PLURAL_ENDINGS
    return len(word) - len(stem) <= 5


def keyword_glossary(
    taxonomy: Taxonomy, encode: Callable[[Sequence[str]], np.ndarray]
) -> dict[tuple[str, str], str]:
    """The English counterpart of every non-English keyword (and label) of each code.

    The taxonomy's keyword lists are written per language and are not translations of one
    another, so each Arabic, Chinese, French, Russian or Spanish keyword is paired with the
    English keyword or label *of the same code* closest to it under ``encode``, a
    multilingual sentence encoder returning unit-length rows ("four à ciment" → "cement
    kiln", "有色金属冶炼" → "non-ferrous metals smelting"). Restricting the choice to the same
    code keeps a poor embedding from jumping to another subject, and a keyword that belongs
    to a sub-sector is paired within that sub-sector first, under the sub-sector's code and
    its sector's alike: within the whole of ``emissions``, "мусоросжигательные заводы" came
    out as "cement plants"; within ``emissions/waste-incineration`` it is "incineration plant".
    """
    phrases: dict[str, int] = {}
    plan: list[tuple[str, list[str], list[str]]] = []

    def lists(code: Code) -> tuple[list[str], list[str]]:
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
        return english, others

    subsector_of: dict[tuple[str, str], str] = {}  # (sector, keyword) -> its sub-sector
    codes = (*taxonomy.subsectors.values(), *taxonomy.sectors.values(), *taxonomy.assistance_types.values())
    for code in codes:
        english, others = lists(code)
        if code.parent is not None:
            subsector_of.update({(code.parent, phrase): code.code for phrase in others})
        else:
            others = [phrase for phrase in others if (code.code, phrase) not in subsector_of]
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
    for (sector, phrase), subsector in subsector_of.items():
        if (subsector, phrase) in glossary:
            glossary[(sector, phrase)] = glossary[(subsector, phrase)]
    return glossary


def glossary_pairs(evidence: TagEvidence, glossary: Glossary) -> list[tuple[str, str]]:
    """(keyword as the taxonomy writes it, English counterpart) of every non-English keyword
    that matched, in match order, each keyword once."""
    pairs: dict[str, str] = {}
    for code, keywords in evidence.matched_keywords.items():
        for keyword in keywords:
            english = glossary.get((code, keyword))
            if english and keyword not in pairs:
                pairs[keyword] = english
    return list(pairs.items())


def english_equivalents(evidence: TagEvidence, glossary: Glossary) -> list[str]:
    """English counterparts of the non-English keywords that matched, in match order."""
    return list(dict.fromkeys(english for _, english in glossary_pairs(evidence, glossary)))
