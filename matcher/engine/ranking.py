"""The ranking engine: need → ranked, explained offerings (and offering → needs).

Pure: it takes plain records (``matcher.engine.domain``), precomputed vectors and weights,
and returns results. No HTTP, no database session, no settings lookups, so the CLI,
the API and the evaluation harness share it.

Score of a candidate (higher is better; roughly 0–1.5, not a probability):

    weights.dense_multilingual · cosine(USE need, USE offering)
  + weights.dense_english      · cosine(MiniLM need-in-English, MiniLM offering)
  + weights.lexical            · BM25(need-in-English) / max BM25 over candidates
  + weights.sentence           · best cosine(USE need sentence, USE offering sentence)
  + weights.sector_stated      · share of the need's stated sectors the offering covers
  + weights.sector_inferred    · share of the inferred-sector evidence the offering covers
  + weights.type_stated / type_inferred  (the same for assistance types)
  + weights.concept            · cosine of the need's and the offering's code profiles
  + weights.language           · [the offering works in the need's language]
  + weights.country_focus      · [the offering names the Party in its country list]
                                 × share of the need's sector evidence the offering covers
  + weights.generality         · vagueness of the need × [the offering covers cross-cutting]
  − weights.unverified         · [the offering is unverified]
  − weights.budget             · how far the need's budget lies outside the funding range

The code profile of a need weighs its stated codes 3 and each inferred code by its
keyword evidence (capped at 3); an offering's profile holds its listed codes plus the codes
its own description mentions. Comparing the two is a bridge between languages that needs
no translation: a Spanish need and an English offering meet in the taxonomy's codes.

A vague need ("we lack capacity") names no subject; the taxonomy's ``cross-cutting``
sector is general implementation (ratification, legislation, institutions), so a vague
need is read as a request of that kind: the less specific the need, the more an offering
that covers cross-cutting gains. (Rewarding the share of all sectors an offering lists
instead favoured large programmes that do not take unspecific requests: dev nDCG@10 of
the vague needs 0.73, against 0.92 with cross-cutting.)

A programme that serves a named list of countries (a regional centre, a sub-regional
project) is the natural first contact for those countries, but only in its own sectors:
its country focus counts in proportion to how much of the need's sector evidence it covers.

The sentence component is computed for the ``rerank_depth`` best candidates only (others
take their whole-text cosine), so its cost does not grow with the catalogue.

"need-in-English" is the need text plus the English labels and definitions of its
stated and inferred codes and the English counterparts (``glossary``) of the taxonomy
keywords it matched: the offerings are written in English, and this is how a French or
Arabic need still gets lexical and English-model evidence, down to the sub-sector (a
French "four à ciment" brings "cement kiln", not only the definition of emissions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from matcher.embeddings.encoders import ENGLISH, MULTILINGUAL
from matcher.embeddings.index import VectorIndex
from matcher.engine.domain import NeedProfile, OfferingProfile, PartyProfile
from matcher.engine.eligibility import CONSTRAINTS
from matcher.engine.text.lexical import LexicalIndex, sentences, tokenize
from matcher.engine.text.tagging import Glossary, KeywordTagger, TagEvidence, english_equivalents
from matcher.engine.weights import RankingWeights
from matcher.taxonomy import PARTY_STATUSES, UN_LANGUAGES, Taxonomy

ENGINE_VERSION = "hybrid-2"
SENTENCES = "sentences"  # need_vectors key: one row per need sentence, multilingual encoder
STATED_STRENGTH = 3.0
COMMON_TERM_SHARE = 0.3
GENERAL_SECTOR = "cross-cutting"  # the taxonomy's "general implementation" sector
NOTICE = "This is a suggestion for secretariat review, not a decision."


def vector_id(text_id: str) -> int:
    """A stable non-negative int64 for a string id (FAISS ids are integers)."""
    return int.from_bytes(hashlib.blake2b(text_id.encode("utf-8"), digest_size=8).digest(), "big") >> 1


@dataclass
class RankedOffering:
    offering: OfferingProfile
    score: float
    components: dict[str, float]
    explanation: dict[str, Any]

    def as_result(self) -> dict[str, Any]:
        return {
            "offering_id": self.offering.id,
            "score": round(self.score, 6),
            "explanation": self.explanation,
        }


@dataclass
class Ranking:
    need_id: str
    results: list[RankedOffering]
    removed: dict[str, int]
    candidates: int
    evidence: TagEvidence
    specificity: float
    engine_version: str = ENGINE_VERSION


@dataclass
class _Eligible:
    count: int
    removed: dict[str, int]


@dataclass
class _Scored:
    ranked: list[RankedOffering]
    eligibility: _Eligible
    evidence: TagEvidence
    specificity: float
    english: str
    pairs: dict[str, dict[str, Any]]


class RankingEngine:
    """Ranks offerings for needs. Build once per catalog state; ``rank`` is read-only.

    ``offering_indexes`` maps an encoder role (``MULTILINGUAL``, ``ENGLISH``) to a vector
    index holding every active offering under ``vector_id(offering.id)``; a role left out
    contributes nothing. Dense search runs inside the index, restricted to the eligible
    candidates (an IDSelector), to ``dense_depth`` results; candidates beyond that depth
    get the lowest score retrieved.
    """

    def __init__(
        self,
        *,
        offerings: Sequence[OfferingProfile],
        offering_indexes: Mapping[str, VectorIndex],
        taxonomy: Taxonomy,
        weights: RankingWeights | None = None,
        tagger: KeywordTagger | None = None,
        offering_sentences: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None,
        glossary: Glossary | None = None,
        dense_depth: int = 400,
        rerank_depth: int = 100,
        reuse: RankingEngine | None = None,
    ) -> None:
        self.offerings = list(offerings)
        self.position = {offering.id: row for row, offering in enumerate(self.offerings)}
        self.vector_ids = np.array([vector_id(offering.id) for offering in self.offerings], dtype=np.int64)
        self.offering_indexes = dict(offering_indexes)
        # faiss label of every offering row, per index (filled on first use; an engine is
        # rebuilt whenever an index changes, so these never go stale).
        self._index_labels: dict[str, np.ndarray] = {}
        self._row_of_sorted = np.argsort(self.vector_ids)
        self._sorted_vector_ids = self.vector_ids[self._row_of_sorted]
        self.offering_sentences = dict(offering_sentences or {})
        self.glossary: Glossary = glossary if glossary is not None else (reuse.glossary if reuse else {})
        self.dense_depth = dense_depth
        self.rerank_depth = rerank_depth
        self.taxonomy = taxonomy
        self.weights = weights or RankingWeights()
        self.tagger: KeywordTagger = tagger or (
            reuse.tagger if reuse is not None else KeywordTagger(taxonomy)
        )
        self.codes = [*taxonomy.sectors, *taxonomy.assistance_types]
        self._code_column = {code: column for column, code in enumerate(self.codes)}
        self.lexical = LexicalIndex([(row, offering.text) for row, offering in enumerate(self.offerings)])
        # Per-offering artefacts depend only on the offering's text and codes: reuse them
        # from the previous engine when one offering changed.
        previous = reuse._per_offering if reuse is not None else {}
        self._per_offering: dict[tuple[str, str], tuple[set[str], np.ndarray]] = {}
        for offering in self.offerings:
            key = self._key(offering)
            self._per_offering[key] = previous.get(key) or self._offering_artefacts(offering)
        self._offering_terms = [self._per_offering[self._key(o)][0] for o in self.offerings]
        self._concepts = (
            np.vstack([self._per_offering[self._key(o)][1] for o in self.offerings])
            if self.offerings
            else np.zeros((0, len(self.codes)), dtype=np.float32)
        )
        self._build_arrays(taxonomy)
        document_frequency: dict[str, int] = {}
        for terms in self._offering_terms:
            for term in terms:
                document_frequency[term] = document_frequency.get(term, 0) + 1
        self._document_frequency = document_frequency

    def _build_arrays(self, taxonomy: Taxonomy) -> None:
        """Column arrays of the offerings, so eligibility and scoring run as numpy
        operations over the whole catalog instead of a Python loop per offering."""
        offerings = self.offerings
        count = len(offerings)
        self._sector_column = {code: column for column, code in enumerate(taxonomy.sectors)}
        self._type_column = {code: column for column, code in enumerate(taxonomy.assistance_types)}
        self._region_column = {code: column for column, code in enumerate(taxonomy.regions)}
        self._status_column = {code: column for column, code in enumerate(PARTY_STATUSES)}
        self._language_column = {code: column for column, code in enumerate(UN_LANGUAGES)}

        def membership(
            values: Callable[[OfferingProfile], Sequence[str]], columns: Mapping[str, int]
        ) -> np.ndarray:
            matrix = np.zeros((count, len(columns)), dtype=bool)
            for row, offering in enumerate(offerings):
                for value in values(offering):
                    if value in columns:
                        matrix[row, columns[value]] = True
            return matrix

        self._sectors = membership(lambda o: o.sectors, self._sector_column)
        self._types = membership(lambda o: o.assistance_types, self._type_column)
        self._sector_weights = self._sectors.astype(np.float32)  # for products without a cast
        self._type_weights = self._types.astype(np.float32)
        self._regions = membership(lambda o: o.regions, self._region_column)
        self._statuses = membership(lambda o: o.eligible_status, self._status_column)
        self._languages = membership(lambda o: o.languages, self._language_column)
        self._has_regions = np.array([bool(o.regions) for o in offerings], dtype=bool)
        self._has_statuses = np.array([bool(o.eligible_status) for o in offerings], dtype=bool)
        self._has_languages = np.array([bool(o.languages) for o in offerings], dtype=bool)
        self._has_countries = np.array([bool(o.countries) for o in offerings], dtype=bool)
        self._countries = {row: set(o.countries) for row, o in enumerate(offerings) if o.countries}
        self._active = np.array([o.active for o in offerings], dtype=bool)
        self._verified = np.array([o.verified for o in offerings], dtype=bool)
        self._opens = np.array([o.opens.toordinal() if o.opens else -1 for o in offerings], dtype=np.int64)
        self._closes = np.array(
            [o.closes.toordinal() if o.closes else 10**9 for o in offerings], dtype=np.int64
        )
        self._full = np.array([o.capacity is not None and o.capacity <= 0 for o in offerings], dtype=bool)
        self._funding_min = np.array([o.funding_min_usd or np.nan for o in offerings], dtype=float)
        self._funding_max = np.array([o.funding_max_usd or np.nan for o in offerings], dtype=float)
        cross_cutting = self._sector_column.get(GENERAL_SECTOR)
        self._general = (
            self._sectors[:, cross_cutting].astype(float) if cross_cutting is not None else np.zeros(count)
        )
        self._id_rank = (
            np.argsort(np.argsort(np.array([o.id for o in offerings], dtype=object)))
            if count
            else np.zeros(0, dtype=np.int64)
        )

    def eligible(self, party: PartyProfile, today: dt.date) -> tuple[np.ndarray, dict[str, int]]:
        """Rows of the offerings eligible for ``party``, and how many each constraint removed
        (an offering counts against the first constraint it fails, in ``CONSTRAINTS`` order)."""
        day = today.toordinal()
        region = self._region_column.get(party.region)
        status = self._status_column.get(party.status)
        in_country = np.zeros(len(self.offerings), dtype=bool)
        for row, countries in self._countries.items():
            in_country[row] = party.iso3 in countries
        checks = {
            "active": self._active,
            "application_window": (self._opens <= day) & (self._closes >= day),
            "capacity": ~self._full,
            "region": ~self._has_regions
            | (self._regions[:, region] if region is not None else np.zeros(len(self.offerings), dtype=bool)),
            "country": ~self._has_countries | in_country,
            "status": ~self._has_statuses
            | (
                self._statuses[:, status] if status is not None else np.zeros(len(self.offerings), dtype=bool)
            ),
        }
        remaining = np.ones(len(self.offerings), dtype=bool)
        removed = {}
        for name in CONSTRAINTS:
            removed[name] = int((remaining & ~checks[name]).sum())
            remaining &= checks[name]
        return np.flatnonzero(remaining), removed

    @staticmethod
    def _key(offering: OfferingProfile) -> tuple[str, str]:
        return (offering.text, "|".join((*offering.sectors, *offering.assistance_types)))

    def _offering_artefacts(self, offering: OfferingProfile) -> tuple[set[str], np.ndarray]:
        """The offering's distinct content terms and its unit-length code profile."""
        terms = set(tokenize(offering.text, remove_stopwords=True))
        evidence = self.tagger.tag(offering.description)
        profile = np.zeros(len(self.codes), dtype=np.float32)
        for code in (
            *offering.sectors,
            *offering.assistance_types,
            *evidence.sectors,
            *evidence.assistance_types,
        ):
            if code in self._code_column:
                profile[self._code_column[code]] = 1.0
        return terms, _unit(profile)

    def need_concepts(self, need: NeedProfile, evidence: TagEvidence) -> np.ndarray:
        """The need's unit-length code profile: stated codes weigh 3, inferred ones their evidence."""
        profile = np.zeros(len(self.codes), dtype=np.float32)
        for scores in (evidence.sectors, evidence.assistance_types):
            for code, strength in scores.items():
                if code in self._code_column:
                    profile[self._code_column[code]] = min(STATED_STRENGTH, strength)
        for code in (*need.sectors, *need.assistance_types):
            if code in self._code_column:
                profile[self._code_column[code]] = STATED_STRENGTH
        return _unit(profile)

    # ------------------------------------------------------------------ need side

    def english_query(self, need: NeedProfile, evidence: TagEvidence) -> str:
        """The need text plus English labels and definitions of its codes and the English
        counterparts of the non-English keywords it matched."""
        codes = [
            *need.sectors,
            *need.assistance_types,
            *evidence.codes("sectors", 2),
            *evidence.codes("assistance_types", 2),
        ]
        glosses = []
        for code in dict.fromkeys(codes):
            entry = self.taxonomy.sectors.get(code) or self.taxonomy.assistance_types.get(code)
            if entry is not None:
                glosses.append(f"{entry.label_in('en')}: {entry.definition.get('en', '')}")
        return " ".join([need.text, *glosses, *english_equivalents(evidence, self.glossary)])

    def need_texts(self, need: NeedProfile, evidence: TagEvidence | None = None) -> dict[str, list[str]]:
        """The texts each role embeds for ``need``: one text for the encoder roles, the
        need's sentences for ``SENTENCES`` (embedded by the multilingual encoder)."""
        evidence = evidence if evidence is not None else self.tagger.tag(need.text, need.language)
        return {
            MULTILINGUAL: [need.text],
            ENGLISH: [self.english_query(need, evidence)],
            SENTENCES: sentences(need.text),
        }

    def rank(
        self,
        need: NeedProfile,
        party: PartyProfile,
        *,
        need_vectors: Mapping[str, np.ndarray],
        k: int = 10,
        today: dt.date | None = None,
        evidence: TagEvidence | None = None,
    ) -> Ranking:
        """Rank the offerings eligible for ``party`` against ``need``.

        ``need_vectors`` maps an encoder role to the need's vector (the ``ENGLISH`` one
        embeds ``english_query``) and ``SENTENCES`` to its sentence vectors. Ties break by
        offering id.
        """
        window = max(k, 10)
        head = max(self.rerank_depth, 2 * window)  # room for the diversity step to push some down
        scored = self._score(need, party, need_vectors, today or dt.date.today(), evidence, head=head)
        results = self._diversify(scored.ranked, k)[:k]
        for item in results:
            item.explanation = self._explain(
                need, item, scored.evidence, scored.english, scored.pairs.get(item.offering.id)
            )
        return Ranking(
            need.id,
            results,
            scored.eligibility.removed,
            scored.eligibility.count,
            scored.evidence,
            scored.specificity,
        )

    def score_pair(
        self,
        need: NeedProfile,
        party: PartyProfile,
        offering_id: str,
        *,
        need_vectors: Mapping[str, np.ndarray],
        today: dt.date | None = None,
        evidence: TagEvidence | None = None,
    ) -> RankedOffering | None:
        """The score and explanation ``offering_id`` gets in ``need``'s ranking (the same
        numbers ``rank`` gives it, before the diversity step), or None when the offering
        is not a candidate for ``party``. This is the donor view's building block."""
        scored = self._score(need, party, need_vectors, today or dt.date.today(), evidence, focus=offering_id)
        if not scored.ranked:
            return None
        item = scored.ranked[0]
        item.explanation = self._explain(
            need, item, scored.evidence, scored.english, scored.pairs.get(offering_id)
        )
        return item

    def _score(
        self,
        need: NeedProfile,
        party: PartyProfile,
        need_vectors: Mapping[str, np.ndarray],
        today: dt.date,
        evidence: TagEvidence | None,
        focus: str | None = None,
        head: int | None = None,
    ) -> _Scored:
        """Score every candidate (or only ``focus``) as arrays, then materialise the best
        ``head`` (default ``rerank_depth``) with their components, run the sentence pass on
        them and sort them, best first.

        Lexical scores are normalised by the best BM25 among all candidates even when only
        ``focus`` is scored, so a pair's score does not depend on which side asked.
        """
        evidence = evidence if evidence is not None else self.tagger.tag(need.text, need.language)
        rows, removed = self.eligible(party, today)
        eligibility = _Eligible(count=len(rows), removed=removed)
        english = self.english_query(need, evidence)
        specificity = self._specificity(need, evidence)
        scored = _Scored([], eligibility, evidence, specificity, english, {})
        if len(rows) == 0:
            return scored
        lexical = self.lexical.score_all(english)[rows]
        top = float(lexical.max())
        lexical_norm = lexical / top if top > 0 else np.zeros_like(lexical)
        if focus is not None:
            keep = np.flatnonzero(rows == self.position.get(focus, -1))
            if len(keep) == 0:
                return scored
            rows, lexical_norm = rows[keep], lexical_norm[keep]
        dense = {
            role: self._dense_scores(role, need_vectors[role], rows)
            for role in self.offering_indexes
            if role in need_vectors
        }
        columns = self._component_arrays(need, evidence, specificity, rows, dense, lexical_norm)
        totals = np.zeros(len(rows))
        for column in columns.values():
            totals += column
        size = min(len(rows), head or self.rerank_depth)
        chosen = np.argpartition(-totals, size - 1)[:size] if size < len(rows) else np.arange(len(rows))
        chosen = chosen[np.lexsort((self._id_rank[rows[chosen]], -totals[chosen]))]
        names = list(columns)
        for position in chosen:
            components = {name: float(columns[name][position]) for name in names}
            offering = self.offerings[int(rows[position])]
            scored.ranked.append(RankedOffering(offering, sum(components.values()), components, {}))
        scored.pairs = self._sentence_pass(scored.ranked, need_vectors.get(SENTENCES), need)
        scored.ranked.sort(key=lambda item: (-item.score, item.offering.id))
        return scored

    def _component_arrays(
        self,
        need: NeedProfile,
        evidence: TagEvidence,
        specificity: float,
        rows: np.ndarray,
        dense: Mapping[str, np.ndarray],
        lexical: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Each weighted component of the score, one value per candidate row."""
        w = self.weights
        zeros = np.zeros(len(rows), dtype=float)
        # Work on whole-catalog columns and pick the candidate rows from the 1-d results:
        # indexing the 2-d code matrices by ``rows`` first would copy them on every query.
        stated_sectors = _share_of(self._sectors, need.sectors, self._sector_column)[rows]
        inferred_sectors = _weighted_share_of(
            self._sector_weights, evidence.sectors, self._sector_column, exclude=need.sectors
        )[rows]
        focus = self._has_countries[rows]
        country_focus = zeros.copy()
        if focus.any():
            evidence_share = _weighted_share_of(
                self._sector_weights[rows[focus]], evidence.sectors, self._sector_column, exclude=()
            )
            country_focus[focus] = np.maximum(stated_sectors[focus], evidence_share)
        language_column = self._language_column.get(need.language or "")
        if language_column is None:
            language = zeros + 0.5
        else:
            language = np.where(self._has_languages[rows], self._languages[rows, language_column], 0.5)
        multilingual = dense.get(MULTILINGUAL, zeros)
        return {
            "dense_multilingual": w.dense_multilingual * multilingual,
            "dense_english": w.dense_english * dense.get(ENGLISH, zeros),
            "lexical": w.lexical * lexical,
            "sector_stated": w.sector_stated * stated_sectors,
            "sector_inferred": w.sector_inferred * inferred_sectors,
            "type_stated": w.type_stated
            * _share_of(self._types, need.assistance_types, self._type_column)[rows],
            "type_inferred": w.type_inferred
            * _weighted_share_of(
                self._type_weights,
                evidence.assistance_types,
                self._type_column,
                exclude=need.assistance_types,
            )[rows],
            "concept": w.concept * (self._concepts @ self.need_concepts(need, evidence))[rows],
            "language": w.language * language,
            "country_focus": w.country_focus * country_focus,
            "generality": w.generality * (1.0 - specificity) * self._general[rows],
            "unverified": -w.unverified * ~self._verified[rows],
            "budget": -w.budget * _budget_gaps(need.budget_usd, self._funding_min, self._funding_max)[rows]
            if need.budget_usd
            else zeros,
            # Until the sentence pass, a candidate's best sentence match is approximated
            # by its whole-text cosine.
            "sentence": w.sentence * multilingual,
        }

    def _sentence_pass(
        self, head: Sequence[RankedOffering], need_sentences: np.ndarray | None, need: NeedProfile
    ) -> dict[str, dict[str, Any]]:
        """Score ``head`` by its best need-sentence ↔ offering-sentence cosine (in place) and
        return the best pair per offering, for the explanation."""
        pairs: dict[str, dict[str, Any]] = {}
        if need_sentences is None or len(need_sentences) == 0:
            return pairs
        need_texts = sentences(need.text)
        matrix = np.asarray(need_sentences, dtype=np.float32).reshape(len(need_texts), -1)
        for item in head:
            stored = self.offering_sentences.get(item.offering.id)
            if stored is None:
                continue
            offering_texts, vectors = stored
            similarity = matrix @ np.asarray(vectors, dtype=np.float32).T
            need_row, offering_row = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
            best = float(similarity[need_row, offering_row])
            item.score -= item.components["sentence"]
            item.components["sentence"] = self.weights.sentence * best
            item.score += item.components["sentence"]
            pairs[item.offering.id] = {
                "need": need_texts[int(need_row)],
                "offering": offering_texts[int(offering_row)],
                "similarity": round(best, 4),
            }
        return pairs

    def _dense_scores(self, role: str, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of the need with each candidate row, searched inside the index to
        ``dense_depth``; candidates beyond that depth get the lowest score retrieved."""
        index = self.offering_indexes[role]
        if role not in self._index_labels:
            self._index_labels[role] = index.labels_of(self.vector_ids)
        labels = self._index_labels[role][rows]
        depth = min(len(rows), self.dense_depth)
        scores, ids = index.search(
            np.asarray(vector, dtype=np.float32).reshape(1, -1), depth, allowed_labels=labels[labels >= 0]
        )
        found = ids[0] >= 0
        found_ids, found_scores = ids[0][found], scores[0][found]
        floor = float(found_scores.min()) if len(found_scores) else 0.0
        by_row = np.full(len(self.offerings), floor, dtype=np.float32)
        if len(found_ids):
            places = np.clip(np.searchsorted(self._sorted_vector_ids, found_ids), 0, len(self.offerings) - 1)
            known = self._sorted_vector_ids[places] == found_ids
            by_row[self._row_of_sorted[places[known]]] = found_scores[known]
        return by_row[rows]

    # ------------------------------------------------------------------ scoring

    def _specificity(self, need: NeedProfile, evidence: TagEvidence) -> float:
        """0 for a need that names nothing specific, 1 for one with clear codes."""
        if need.sectors:
            return 1.0
        strong = sum(score for code, score in evidence.sectors.items() if code != "cross-cutting")
        return min(1.0, strong / 4.0)

    def _diversify(self, ranked: list[RankedOffering], k: int) -> list[RankedOffering]:
        """Soft, then hard diversity over the top ``max(k, 10)``.

        Picking greedily, each offering loses ``weights.provider_repeat`` for every offering
        of its provider already picked (several programmes of one organisation can all be
        right, so this only breaks near-ties), and no provider gets more than
        ``weights.provider_cap`` places. The rest follow in score order.
        """
        window = max(k, 10)
        penalty = self.weights.provider_repeat
        remaining = list(ranked)
        kept: list[RankedOffering] = []
        per_provider: dict[str, int] = {}
        while remaining and len(kept) < window:
            best_index, best_value = -1, -math.inf
            for index, item in enumerate(remaining):
                count = per_provider.get(item.offering.provider_id, 0)
                if count >= self.weights.provider_cap:
                    continue
                value = item.score - penalty * count
                if value > best_value + 1e-12:
                    best_index, best_value = index, value
                if penalty == 0 or index > 4 * window:
                    break
            if best_index < 0:
                break
            item = remaining.pop(best_index)
            if item.score != best_value:
                item.components["provider_repeat"] = best_value - item.score
                item.score = best_value
            per_provider[item.offering.provider_id] = per_provider.get(item.offering.provider_id, 0) + 1
            kept.append(item)
        return kept + remaining

    # ------------------------------------------------------------------ explanation

    def _explain(
        self,
        need: NeedProfile,
        item: RankedOffering,
        evidence: TagEvidence,
        english: str,
        sentence_pair: dict[str, Any] | None,
    ) -> dict[str, Any]:
        offering = item.offering
        stated_sectors = [code for code in need.sectors if code in offering.sectors]
        inferred_sectors = [
            code
            for code in evidence.codes("sectors")
            if code in offering.sectors and code not in need.sectors
        ]
        stated_types = [code for code in need.assistance_types if code in offering.assistance_types]
        inferred_types = [
            code
            for code in evidence.codes("assistance_types")
            if code in offering.assistance_types and code not in need.assistance_types
        ]
        explanation: dict[str, Any] = {
            "components": {name: round(value, 6) + 0.0 for name, value in item.components.items()},
            "matched": {
                "sectors": {"stated": stated_sectors, "inferred": inferred_sectors},
                "assistance_types": {"stated": stated_types, "inferred": inferred_types},
            },
            "matched_terms": self._matching_terms(english, offering.id)[:8],
            "sentence_pair": sentence_pair,
            "constraints_passed": list(CONSTRAINTS),
            "budget": _budget_note(need.budget_usd, offering.funding_min_usd, offering.funding_max_usd),
            "unverified": not offering.verified,
            "notice": NOTICE,
        }
        return explanation

    def _matching_terms(self, query: str, offering_id: str) -> list[str]:
        """Query terms found in the offering's text, rarest (most telling) first. Terms
        found in more than ``COMMON_TERM_SHARE`` of the catalog ("mercury", "support")
        explain nothing and are left out."""
        terms = self._offering_terms[self.position[offering_id]]
        common = COMMON_TERM_SHARE * len(self.offerings)
        shared = [
            term
            for term in _content_terms(query)
            if term in terms and (len(self.offerings) < 10 or self._document_frequency.get(term, 0) <= common)
        ]
        return sorted(shared, key=lambda term: (self._document_frequency.get(term, 0), term))


@lru_cache(maxsize=256)
def _content_terms(query: str) -> tuple[str, ...]:
    """Distinct content terms of a query, in order (cached: every result of one ranking asks)."""
    return tuple(dict.fromkeys(tokenize(query, remove_stopwords=True)))


def _share_of(members: np.ndarray, codes: Sequence[str], columns: Mapping[str, int]) -> np.ndarray:
    """Per row: the share of ``codes`` the row's membership covers (0 when no codes).
    (Tempering it by the offering's focus, so that programmes listing every sector gain
    less, lowered dev nDCG@10 from 0.645 to 0.605: broad funds are often the right answer.)"""
    picked = [columns[code] for code in codes if code in columns]
    if not codes or not picked:
        return np.zeros(len(members))
    return np.asarray(members[:, picked].sum(axis=1) / len(codes), dtype=float)


def _weighted_share_of(
    members: np.ndarray, scores: Mapping[str, float], columns: Mapping[str, int], *, exclude: Sequence[str]
) -> np.ndarray:
    """Per row: the share of the evidence (code → strength, ``exclude`` left out) covered.
    ``members`` is a float32 0/1 matrix (a bool one would be cast, copied, on every call)."""
    weights = np.zeros(members.shape[1] if members.ndim == 2 else 0, dtype=np.float32)
    for code, score in scores.items():
        if code not in exclude and code in columns:
            weights[columns[code]] = score
    total = weights.sum()
    if total <= 0:
        return np.zeros(len(members))
    return np.asarray(members @ weights / total, dtype=float)


def _budget_gaps(budget: float | None, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``_budget_gap`` for arrays of funding ranges (NaN = no bound)."""
    if budget is None or budget <= 0:
        return np.zeros(len(low))
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(~np.isnan(low) & (budget < low), np.log10(low / budget), 0.0)
        above = np.where(~np.isnan(high) & (budget > high), np.log10(budget / high), 0.0)
    return np.minimum(1.0, np.nan_to_num(below) + np.nan_to_num(above))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _budget_gap(budget: float | None, low: float | None, high: float | None) -> float:
    """0 inside the range (or when unknown); grows with the log-distance outside it, capped at 1."""
    if budget is None or budget <= 0:
        return 0.0
    if low is not None and budget < low:
        return min(1.0, math.log10(low / budget))
    if high is not None and budget > high:
        return min(1.0, math.log10(budget / high))
    return 0.0


def _budget_note(budget: float | None, low: float | None, high: float | None) -> dict[str, Any]:
    gap = _budget_gap(budget, low, high)
    if budget is None:
        fit = "unknown"
    elif low is None and high is None:
        fit = "no documented range"
    elif gap > 0:
        fit = "below range" if low is not None and budget < low else "above range"
    else:
        fit = "within range"
    return {
        "need_budget_usd": budget,
        "funding_min_usd": low,
        "funding_max_usd": high,
        "fit": fit,
        "penalty": round(gap, 4),
    }
