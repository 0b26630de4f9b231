"""The catalogue as columns: the offerings' fields as numpy arrays, and eligibility over them.

Why this module sits beside ``eligibility.py`` rather than inside it: ``failed_constraint``
there is the rule, one offering at a time, written to be read (and the tests' oracle);
``Catalogue.eligible`` here is the same rule over the whole catalogue at once, as numpy
operations, because a Python loop per offering does not scale to 100k offerings. The column
arrays also feed the score components (sectors, languages, funding, verification) and the
per-offering artefacts feed explanations, so they belong to the catalogue, not to the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from matcher.engine.codes import CodeSpace
from matcher.engine.domain import OfferingProfile, PartyProfile
from matcher.engine.eligibility import CONSTRAINTS
from matcher.engine.text.lexical import tokenize
from matcher.engine.text.tagging import KeywordTagger
from matcher.taxonomy import GENERAL_SECTOR, PARTY_STATUSES, UN_LANGUAGES, Taxonomy

# Per offering, what depends only on its text and codes: its distinct content terms, its
# code profile and the sub-sectors its description mentions.
_Artefacts = tuple[set[str], np.ndarray, tuple[str, ...]]
_OPEN_END = 10**9  # ordinal of a window that never closes


class Catalogue:
    """Every offering (active or not) by row number, with column arrays over the rows.

    Row ``r`` is ``offerings[r]``. Immutable once built: a changed catalogue is a new
    ``Catalogue`` (``reuse``, the previous one, spares recomputing the artefacts of offerings
    whose text and codes did not change).
    """

    def __init__(
        self,
        offerings: Sequence[OfferingProfile],
        *,
        taxonomy: Taxonomy,
        tagger: KeywordTagger,
        codes: CodeSpace,
        reuse: Catalogue | None = None,
    ) -> None:
        self.offerings = list(offerings)
        self.position = {offering.id: row for row, offering in enumerate(self.offerings)}
        previous = reuse._artefacts if reuse is not None else {}
        self._artefacts: dict[tuple[str, str], _Artefacts] = {}
        for offering in self.offerings:
            key = _artefact_key(offering)
            self._artefacts[key] = previous.get(key) or _offering_artefacts(offering, tagger, codes)
        artefacts = [self._artefacts[_artefact_key(offering)] for offering in self.offerings]
        self.terms: list[set[str]] = [terms for terms, _, _ in artefacts]
        self.code_profiles = (
            np.vstack([profile for _, profile, _ in artefacts])
            if artefacts
            else np.zeros((0, len(codes)), dtype=np.float32)
        )
        self.mentioned_subsectors: list[tuple[str, ...]] = [found for _, _, found in artefacts]
        self.document_frequency: dict[str, int] = {}
        for terms in self.terms:
            for term in terms:
                self.document_frequency[term] = self.document_frequency.get(term, 0) + 1
        self._build_columns(taxonomy)

    def __len__(self) -> int:
        return len(self.offerings)

    def _build_columns(self, taxonomy: Taxonomy) -> None:
        offerings = self.offerings
        count = len(offerings)
        self.sector_column = {code: column for column, code in enumerate(taxonomy.sectors)}
        self.type_column = {code: column for column, code in enumerate(taxonomy.assistance_types)}
        self.region_column = {code: column for column, code in enumerate(taxonomy.regions)}
        self.status_column = {code: column for column, code in enumerate(PARTY_STATUSES)}
        self.language_column = {code: column for column, code in enumerate(UN_LANGUAGES)}

        def membership(
            values: Callable[[OfferingProfile], Sequence[str]], columns: Mapping[str, int]
        ) -> np.ndarray:
            matrix = np.zeros((count, len(columns)), dtype=bool)
            for row, offering in enumerate(offerings):
                for value in values(offering):
                    if value in columns:
                        matrix[row, columns[value]] = True
            return matrix

        self.sectors = membership(lambda o: o.sectors, self.sector_column)
        # Sub-sectors are not listed by providers: they come from each description's tagging.
        self.subsector_column = {code: column for column, code in enumerate(taxonomy.subsectors)}
        self.subsector_parent = {code: entry.parent for code, entry in taxonomy.subsectors.items()}
        mentioned = dict(zip((o.id for o in offerings), self.mentioned_subsectors, strict=True))
        self.subsectors = membership(lambda o: mentioned[o.id], self.subsector_column)
        self.sector_count = self.sectors.sum(axis=1)
        self.types = membership(lambda o: o.assistance_types, self.type_column)
        # float32 copies for matrix products: a bool matrix would be cast (copied) on every query.
        self.sector_weights = self.sectors.astype(np.float32)
        self.type_weights = self.types.astype(np.float32)
        self.regions = membership(lambda o: o.regions, self.region_column)
        self.statuses = membership(lambda o: o.eligible_status, self.status_column)
        self.languages = membership(lambda o: o.languages, self.language_column)
        self.has_regions = np.array([bool(o.regions) for o in offerings], dtype=bool)
        self.has_statuses = np.array([bool(o.eligible_status) for o in offerings], dtype=bool)
        self.has_languages = np.array([bool(o.languages) for o in offerings], dtype=bool)
        self.has_countries = np.array([bool(o.countries) for o in offerings], dtype=bool)
        self.countries = {row: set(o.countries) for row, o in enumerate(offerings) if o.countries}
        self.active = np.array([o.active for o in offerings], dtype=bool)
        self.verified = np.array([o.verified for o in offerings], dtype=bool)
        self.opens = np.array([o.opens.toordinal() if o.opens else -1 for o in offerings], dtype=np.int64)
        self.closes = np.array(
            [o.closes.toordinal() if o.closes else _OPEN_END for o in offerings], dtype=np.int64
        )
        self.full = np.array([o.capacity is not None and o.capacity <= 0 for o in offerings], dtype=bool)
        self.funding_min = np.array([o.funding_min_usd or np.nan for o in offerings], dtype=float)
        self.funding_max = np.array([o.funding_max_usd or np.nan for o in offerings], dtype=float)
        general = self.sector_column.get(GENERAL_SECTOR)
        self.general = self.sectors[:, general].astype(float) if general is not None else np.zeros(count)
        # Rank of each offering's id among all ids: the tie-break of equal scores.
        self.id_rank = (
            np.argsort(np.argsort(np.array([o.id for o in offerings], dtype=object)))
            if count
            else np.zeros(0, dtype=np.int64)
        )

    def eligible(self, party: PartyProfile, today: dt.date) -> tuple[np.ndarray, dict[str, int]]:
        """Rows of the offerings eligible for ``party`` on ``today``, ascending, and how many
        offerings each constraint removed (an offering counts against the first constraint it
        fails, in ``CONSTRAINTS`` order): ``failed_constraint`` over every row at once."""
        count = len(self.offerings)
        day = today.toordinal()
        region = self.region_column.get(party.region)
        status = self.status_column.get(party.status)
        in_country = np.zeros(count, dtype=bool)
        for row, countries in self.countries.items():
            in_country[row] = party.iso3 in countries
        checks = {
            "active": self.active,
            "application_window": (self.opens <= day) & (self.closes >= day),
            "capacity": ~self.full,
            "region": ~self.has_regions
            | (self.regions[:, region] if region is not None else np.zeros(count, dtype=bool)),
            "country": ~self.has_countries | in_country,
            "status": ~self.has_statuses
            | (self.statuses[:, status] if status is not None else np.zeros(count, dtype=bool)),
        }
        remaining = np.ones(count, dtype=bool)
        removed = {}
        for name in CONSTRAINTS:
            removed[name] = int((remaining & ~checks[name]).sum())
            remaining &= checks[name]
        return np.flatnonzero(remaining), removed


def _artefact_key(offering: OfferingProfile) -> tuple[str, str]:
    return (offering.text, "|".join((*offering.sectors, *offering.assistance_types)))


def _offering_artefacts(offering: OfferingProfile, tagger: KeywordTagger, codes: CodeSpace) -> _Artefacts:
    """The offering's distinct content terms, its unit-length code profile and the
    sub-sectors its description mentions."""
    terms = set(tokenize(offering.text, remove_stopwords=True))
    mentioned = tagger.tag(offering.description)
    profile = codes.offering_profile((*offering.sectors, *offering.assistance_types), mentioned)
    return terms, profile, mentioned.codes("subsectors")
