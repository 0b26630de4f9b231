"""A need prepared once: everything ranking, explanations, coaching and the pages read of it.

``QueryBuilder.prepare`` tags the need's text once and derives the rest from that one
tagging; every consumer then reads the same ``NeedQuery`` (``RankingEngine.rank`` and
``score_pair``, ``RequestReader.assess``, the workbench's matched keywords), so nothing tags
a need twice while serving one request.

"need-in-English" (``english_text``) is the need text plus, for each of its stated and
inferred codes, the English label and definition, and the English counterparts (the keyword
glossary) of the taxonomy keywords it matched: the offerings are written in English, and
this is how a French or Arabic need still gets lexical and English-model evidence. Where a
sector's definition lists the industries it covers, the need carries its *own* sub-sector in
place of that list: the definition of ``emissions`` names every Annex D source (coal,
boilers, cement, clinker), and adding it to every emissions request sent a tin-smelter
request to the cement and coal programmes; a tin smelter now reads "... the Annex D sources
— Non-ferrous metal smelting and roasting (lead, zinc, copper, industrial gold) — through
best available techniques ...". (The sub-sector's English keywords as well were measured and
left out: dev nDCG@10 0.713 → 0.702, probe 0.822 → 0.815.)

What an explanation may credit is narrower (``own_terms``, ``translations``): the words the
Party wrote, and the English counterparts of the keywords its text matched, each shown
beside the Party's own words. Labels, definitions and sub-sector keywords help the ranking
but are no one's words, so they are never shown as matched terms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.engine.codes import CodeSpace
from matcher.engine.domain import NeedProfile
from matcher.engine.text.lexical import sentences, tokenize
from matcher.engine.text.tagging import Glossary, KeywordTagger, TagEvidence, glossary_pairs
from matcher.engine.vagueness import Vagueness
from matcher.taxonomy import Code, Taxonomy

SENTENCES = "sentences"  # need_vectors key: one row per need sentence, multilingual encoder
INFERRED_GLOSS_EVIDENCE = 2.0  # an inferred code needs this much evidence to add its gloss


@dataclass(frozen=True, eq=False)
class NeedQuery:
    """One need, prepared for ranking and coaching. Immutable; compared by identity (it holds
    arrays); build it with ``QueryBuilder.prepare`` (or ``RankingEngine.prepare``).

    ``evidence`` is the keyword tagging of ``need.text`` in the need's own language: the
    inferred codes, with their strength and matched keywords. The stated codes are the need's
    own (``need.sectors``, ``need.assistance_types``). ``vagueness`` holds the inputs of both
    the score's specificity and the coaching's vague check. The texts are what each encoder
    role embeds (``texts``); ``code_profile`` is the need's unit-length code vector.
    """

    need: NeedProfile
    evidence: TagEvidence
    vagueness: Vagueness
    multilingual_text: str
    english_text: str
    sentences: tuple[str, ...]
    code_profile: np.ndarray = field(repr=False)
    translations: tuple[tuple[str, str], ...] = ()

    @property
    def language(self) -> str | None:
        return self.need.language

    @property
    def specificity(self) -> float:
        """0 for a need that names nothing specific, 1 for one with clear codes (the score's reading)."""
        return self.vagueness.specificity

    def texts(self) -> dict[str, list[str]]:
        """The texts each role embeds: one text for each encoder role (``MULTILINGUAL``,
        ``ENGLISH``), the need's sentences for ``SENTENCES`` (multilingual encoder)."""
        return {
            MULTILINGUAL: [self.multilingual_text],
            ENGLISH: [self.english_text],
            SENTENCES: list(self.sentences),
        }

    @cached_property
    def own_terms(self) -> tuple[str, ...]:
        """Distinct terms an explanation may credit, in order: the content terms of the need's
        own text, then those of the English counterparts in ``translations``. Never a stop word
        (six languages), a number or a single letter. Worked out once per query: every
        explanation of one ranking asks for them."""
        texts = [self.need.text, *(english for _, english in self.translations)]
        return tuple(dict.fromkeys(term for text in texts for term in explainable_terms(text)))

    @cached_property
    def translation_terms(self) -> tuple[tuple[str, str, frozenset[str]], ...]:
        """Each of ``translations`` with the terms of its English side."""
        return tuple(
            (need, english, frozenset(explainable_terms(english))) for need, english in self.translations
        )


class QueryBuilder:
    """Prepares needs: holds the taxonomy, the tagger and the keyword glossary they need.

    ``glossary`` maps (code, non-English keyword) to its English counterpart; without one
    (``{}``) the need-in-English text carries only code labels and definitions.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        tagger: KeywordTagger,
        glossary: Glossary | None = None,
        codes: CodeSpace | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.tagger = tagger
        self.glossary: Glossary = glossary if glossary is not None else {}
        self.codes = codes or CodeSpace(taxonomy)

    def prepare(self, need: NeedProfile, evidence: TagEvidence | None = None) -> NeedQuery:
        """The query of ``need``. ``evidence``, when given, must be this builder's tagger's
        reading of ``need.text`` in ``need.language`` (``RequestReader.read`` gives it): it
        spares tagging the text again."""
        if evidence is None:
            evidence = self.tagger.tag(need.text, need.language)
        translations = tuple(
            (keyword, english)
            for keyword, english in glossary_pairs(evidence, self.glossary)
            if normalised_phrase(keyword) != normalised_phrase(english)
        )
        return NeedQuery(
            need=need,
            evidence=evidence,
            vagueness=Vagueness.of(need, evidence),
            multilingual_text=need.text,
            english_text=self.english_text(need, evidence),
            sentences=tuple(sentences(need.text)),
            code_profile=self.codes.need_profile((*need.sectors, *need.assistance_types), evidence),
            translations=translations,
        )

    def english_text(self, need: NeedProfile, evidence: TagEvidence) -> str:
        """The need text plus an English gloss of each of its codes (stated ones, and inferred
        ones with at least ``INFERRED_GLOSS_EVIDENCE``) and the English counterparts of the
        non-English keywords it matched. A code's gloss is its label and definition, the
        definition's list of industries replaced by the need's own sub-sectors
        (``own_definition``)."""
        codes = [
            *need.sectors,
            *need.assistance_types,
            *evidence.codes("sectors", INFERRED_GLOSS_EVIDENCE),
            *evidence.codes("assistance_types", INFERRED_GLOSS_EVIDENCE),
        ]
        glosses = []
        for code in dict.fromkeys(codes):
            entry = self.taxonomy.sectors.get(code) or self.taxonomy.assistance_types.get(code)
            if entry is None:
                continue
            own = [
                entry.subsectors[code] for code in evidence.codes("subsectors") if code in entry.subsectors
            ]
            glosses.append(f"{entry.label_in('en')}: {own_definition(entry, own)}")
        english = [english for _, english in glossary_pairs(evidence, self.glossary)]
        return " ".join([need.text, *glosses, *dict.fromkeys(english)])


_EXAMPLE_LIST = re.compile(r"\s—\s[^—]+\s—\s")


def own_definition(entry: Code, own: Sequence[Code]) -> str:
    """``entry``'s English definition, its list of examples (between dashes: "the Annex D
    sources — coal-fired power plants …, cement clinker production — through …") replaced by
    the labels of the need's own sub-sectors ``own``; the definition as it is when ``own`` is
    empty or it has no such list (the definitions of ``asgm`` or ``health`` name facets of one
    activity, not different industries)."""
    definition = entry.definition.get("en", "")
    if not own:
        return definition
    labels = "; ".join(found.label_in("en") for found in own)
    return _EXAMPLE_LIST.sub(f" — {labels} — ", definition, count=1)


def explainable_terms(text: str) -> list[str]:
    """The tokens of ``text`` an explanation may show: no stop word of the six languages, no
    number, no single letter (or single Han character)."""
    return [
        term
        for term in tokenize(text, remove_stopwords=True)
        if len(term) > 1 and not any(character.isdigit() for character in term)
    ]


def normalised_phrase(text: str) -> str:
    return " ".join(tokenize(text))
