"""The catalogue as columns: the offerings' fields as numpy arrays, and eligibility over them.

Why this module sits beside ``eligibility.py`` rather than inside it: ``failed_constraint``
there is the rule, one offering at a time, written to be read (and the tests' oracle);
``Catalogue.eligible`` here is the same rule over the whole catalogue at once, as numpy
operations, because a Python loop per offering does not scale to 100k offerings. The column
arrays also feed the score components (sectors, languages, funding, verification) and the
per-offering artefacts (BM25 term counts, code profiles, the sub-sectors each description
mentions) feed BM25, the sub-sector component and explanations, so they belong to the
catalogue, not to the rule.

A catalogue changes by ``changed``: the new one shares every unchanged artefact and copies
the column arrays with the changed rows rewritten (a numpy copy, not a Python loop over the
offerings), so one offering's change costs its own tagging and tokenising plus memory copies.
A new offering takes the next row: rows are not in id order (ties still break by id, through
``id_rank``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.engine.codes import CodeSpace
from matcher.engine.domain import OfferingProfile, PartyProfile
from matcher.engine.eligibility import CONSTRAINTS
from matcher.engine.lexicon import Lexicon, RowCounts, RowMajor, Vocabulary, count_terms
from matcher.engine.text.tagging import KeywordTagger
from matcher.taxonomy import GENERAL_SECTOR, PARTY_STATUSES, UN_LANGUAGES, Taxonomy

_OPEN_END = 10**9  # ordinal of a window that never closes


@dataclass(frozen=True)
class Artefacts:
    """What the engine derives from one offering's text and codes alone (``artefact_key``):
    its BM25 term counts, its unit-length code profile and the sub-sectors its description
    mentions (the tagger's). Persisted with the indexes (``matcher.engine.artefacts``), so a
    restart does not tag and tokenise every offering."""

    key: str
    counts: RowCounts
    code_profile: np.ndarray
    subsectors: tuple[str, ...] = ()


def artefact_key(offering: OfferingProfile) -> str:
    """A digest of everything an offering's ``Artefacts`` depend on."""
    codes = "|".join((*offering.sectors, *offering.assistance_types))
    return hashlib.sha256(f"{offering.text}\x00{codes}".encode()).hexdigest()[:32]


ArtefactLookup = Callable[[OfferingProfile, str], "Artefacts | None"]
"""Known artefacts of an offering with the given key (e.g. persisted ones), or None."""


class Catalogue:
    """Every offering (active or not) by row number, with column arrays over the rows.

    Row ``r`` is ``offerings[r]``. Immutable once built: a changed catalogue is a new one
    (``changed``). ``reuse`` (a previous catalogue) or ``known`` (e.g. persisted artefacts)
    spare recomputing the artefacts of offerings whose text and codes did not change.
    """

    # Column arrays, one value (or row) per offering; see ``_columns``.
    sectors: np.ndarray
    types: np.ndarray
    sector_weights: np.ndarray
    type_weights: np.ndarray
    regions: np.ndarray
    statuses: np.ndarray
    languages: np.ndarray
    has_regions: np.ndarray
    has_statuses: np.ndarray
    has_languages: np.ndarray
    has_countries: np.ndarray
    active: np.ndarray
    verified: np.ndarray
    opens: np.ndarray
    closes: np.ndarray
    full: np.ndarray
    funding_min: np.ndarray
    funding_max: np.ndarray
    general: np.ndarray
    sector_count: np.ndarray
    subsectors: np.ndarray  # from the artefacts (the tagger's sub-sectors), not from ``_columns``

    def __init__(
        self,
        offerings: Sequence[OfferingProfile],
        *,
        taxonomy: Taxonomy,
        tagger: KeywordTagger,
        codes: CodeSpace,
        reuse: Catalogue | None = None,
        known: ArtefactLookup | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.offerings = list(offerings)
        self.position = {offering.id: row for row, offering in enumerate(self.offerings)}
        self._tagger = tagger
        self._codes = codes
        self.vocabulary: Vocabulary = vocabulary or (reuse.vocabulary if reuse is not None else Vocabulary())
        previous = reuse._artefacts_by_key() if reuse is not None else {}
        artefacts = []
        for offering in self.offerings:
            key = artefact_key(offering)
            found = previous.get(key) or (known(offering, key) if known is not None else None)
            artefacts.append(found or self._compute(offering, key))
        self.keys = [item.key for item in artefacts]
        self.lexicon = Lexicon.of(self.vocabulary, RowMajor.of([item.counts for item in artefacts]))
        self.code_profiles = (
            np.vstack([item.code_profile for item in artefacts]).astype(np.float32)
            if artefacts
            else np.zeros((0, len(codes)), dtype=np.float32)
        )
        self.mentioned_subsectors: list[tuple[str, ...]] = [item.subsectors for item in artefacts]
        self._maps = _ColumnMaps(taxonomy)
        self.sector_column = self._maps.sector
        self.type_column = self._maps.type
        self.region_column = self._maps.region
        self.status_column = self._maps.status
        self.language_column = self._maps.language
        self.subsector_column = self._maps.subsector
        self.subsector_parent = self._maps.subsector_parent
        for name, column in _columns(self.offerings, self._maps).items():
            setattr(self, name, column)
        # Sub-sectors are not listed by providers: they come from each description's tagging
        # (an artefact), so they are not among the columns ``_columns`` reads off the offerings.
        self.subsectors = _membership(self.mentioned_subsectors, self._maps.subsector)
        self.countries = {row: set(o.countries) for row, o in enumerate(self.offerings) if o.countries}
        ids = np.array([offering.id for offering in self.offerings], dtype=object)
        self._sorted_ids = np.sort(ids) if len(ids) else ids
        # Rank of each offering's id among all ids: the tie-break of equal scores.
        self.id_rank = np.argsort(np.argsort(ids)) if len(ids) else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.offerings)

    def _compute(self, offering: OfferingProfile, key: str) -> Artefacts:
        mentioned = self._tagger.tag(offering.description)
        profile = self._codes.offering_profile((*offering.sectors, *offering.assistance_types), mentioned)
        subsectors = mentioned.codes("subsectors")
        return Artefacts(key, count_terms(offering.text, self.vocabulary), profile, subsectors)

    def artefacts(self, row: int) -> Artefacts:
        return Artefacts(
            self.keys[row], self.lexicon.row(row), self.code_profiles[row], self.mentioned_subsectors[row]
        )

    def _artefacts_by_key(self) -> dict[str, Artefacts]:
        return {key: self.artefacts(row) for row, key in enumerate(self.keys)}

    @property
    def terms(self) -> RowTerms:
        """Per row, the offering's distinct terms (``term in catalogue.terms[row]``)."""
        return RowTerms(self.lexicon)

    @property
    def document_frequency(self) -> DocumentFrequency:
        """How many offerings hold each term (``.get(term, 0)``)."""
        return DocumentFrequency(self.lexicon)

    def changed(self, offerings: Sequence[OfferingProfile]) -> Catalogue:
        """A new catalogue where each of ``offerings`` replaces the offering with its id, or
        takes the next row when it is new. Artefacts of unchanged text and codes are kept."""
        if not offerings:
            return self
        new = object.__new__(Catalogue)
        new.__dict__.update(self.__dict__)
        new.offerings = list(self.offerings)
        new.position = dict(self.position)
        new.keys = list(self.keys)
        new.mentioned_subsectors = list(self.mentioned_subsectors)
        rows: list[int] = []
        counts: dict[int, RowCounts] = {}
        profiles: dict[int, np.ndarray] = {}
        appended: list[str] = []
        for offering in offerings:
            row = new.position.get(offering.id)
            if row is None:
                row = len(new.offerings)
                new.position[offering.id] = row
                new.offerings.append(offering)
                new.keys.append("")
                new.mentioned_subsectors.append(())
                appended.append(offering.id)
            else:
                new.offerings[row] = offering
            key = artefact_key(offering)
            if key != new.keys[row]:
                artefacts = self._compute(offering, key)
                new.keys[row] = key
                counts[row] = artefacts.counts
                profiles[row] = artefacts.code_profile
                new.mentioned_subsectors[row] = artefacts.subsectors
            rows.append(row)
        size = len(new.offerings)
        new.lexicon = self.lexicon.changed(counts)
        new.code_profiles = _grown(self.code_profiles, size)
        for row, profile in profiles.items():
            new.code_profiles[row] = profile
        fresh = _columns([new.offerings[row] for row in rows], self._maps)
        index = np.array(rows, dtype=np.int64)
        for name, values in fresh.items():
            column = _grown(getattr(self, name), size)
            column[index] = values
            setattr(new, name, column)
        new.subsectors = _grown(self.subsectors, size)
        new.subsectors[index] = _membership(
            [new.mentioned_subsectors[row] for row in rows], self._maps.subsector
        )
        new.countries = dict(self.countries)
        for row in rows:
            if new.offerings[row].countries:
                new.countries[row] = set(new.offerings[row].countries)
            else:
                new.countries.pop(row, None)
        for offering_id in appended:
            place = int(np.searchsorted(new._sorted_ids, offering_id))
            new._sorted_ids = np.insert(new._sorted_ids, place, offering_id)
            new.id_rank = np.append(np.where(new.id_rank >= place, new.id_rank + 1, new.id_rank), place)
        return new

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


class RowTerms:
    """``catalogue.terms[row]``: the set of the row's distinct terms, made on demand from
    the lexicon's counts (the catalogue keeps term ids, not a set of strings per offering)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._lexicon = lexicon

    def __len__(self) -> int:
        return len(self._lexicon)

    def __getitem__(self, row: int) -> frozenset[str]:
        words = self._lexicon.vocabulary.words
        return frozenset(words[number] for number in self._lexicon.row(row).ids.tolist())

    def __iter__(self) -> Iterator[frozenset[str]]:
        return (self[row] for row in range(len(self)))


class DocumentFrequency:
    """``catalogue.document_frequency.get(term, 0)``: how many offerings hold ``term``."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._lexicon = lexicon

    def get(self, term: str, default: int = 0) -> int:
        return self._lexicon.frequency(term) or default

    def __getitem__(self, term: str) -> int:
        found = self._lexicon.frequency(term)
        if not found:
            raise KeyError(term)
        return found


class _ColumnMaps:
    """Column number of each code, by kind (fixed by the taxonomy)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.sector = {code: column for column, code in enumerate(taxonomy.sectors)}
        self.type = {code: column for column, code in enumerate(taxonomy.assistance_types)}
        self.region = {code: column for column, code in enumerate(taxonomy.regions)}
        self.status = {code: column for column, code in enumerate(PARTY_STATUSES)}
        self.language = {code: column for column, code in enumerate(UN_LANGUAGES)}
        self.subsector = {code: column for column, code in enumerate(taxonomy.subsectors)}
        self.subsector_parent = {code: entry.parent for code, entry in taxonomy.subsectors.items()}


def _columns(offerings: Sequence[OfferingProfile], maps: _ColumnMaps) -> dict[str, np.ndarray]:
    """Every column array over ``offerings`` (row ``r`` is ``offerings[r]``)."""
    count = len(offerings)

    def membership(
        values: Callable[[OfferingProfile], Sequence[str]], columns: Mapping[str, int]
    ) -> np.ndarray:
        return _membership([values(offering) for offering in offerings], columns)

    sectors = membership(lambda o: o.sectors, maps.sector)
    types = membership(lambda o: o.assistance_types, maps.type)
    general = maps.sector.get(GENERAL_SECTOR)
    columns: dict[str, Any] = {
        "sectors": sectors,
        "types": types,
        # float32 copies for matrix products: a bool matrix would be cast (copied) on every query.
        "sector_count": sectors.sum(axis=1),
        "sector_weights": sectors.astype(np.float32),
        "type_weights": types.astype(np.float32),
        "regions": membership(lambda o: o.regions, maps.region),
        "statuses": membership(lambda o: o.eligible_status, maps.status),
        "languages": membership(lambda o: o.languages, maps.language),
        "has_regions": np.array([bool(o.regions) for o in offerings], dtype=bool),
        "has_statuses": np.array([bool(o.eligible_status) for o in offerings], dtype=bool),
        "has_languages": np.array([bool(o.languages) for o in offerings], dtype=bool),
        "has_countries": np.array([bool(o.countries) for o in offerings], dtype=bool),
        "active": np.array([o.active for o in offerings], dtype=bool),
        "verified": np.array([o.verified for o in offerings], dtype=bool),
        "opens": np.array([o.opens.toordinal() if o.opens else -1 for o in offerings], dtype=np.int64),
        "closes": np.array(
            [o.closes.toordinal() if o.closes else _OPEN_END for o in offerings], dtype=np.int64
        ),
        "full": np.array([o.capacity is not None and o.capacity <= 0 for o in offerings], dtype=bool),
        "funding_min": np.array([o.funding_min_usd or np.nan for o in offerings], dtype=float),
        "funding_max": np.array([o.funding_max_usd or np.nan for o in offerings], dtype=float),
        "general": sectors[:, general].astype(float) if general is not None else np.zeros(count),
    }
    return columns


def _membership(values: Sequence[Sequence[str]], columns: Mapping[str, int]) -> np.ndarray:
    """Row ``r`` marks the columns of ``values[r]`` (codes without a column are ignored)."""
    matrix = np.zeros((len(values), len(columns)), dtype=bool)
    for row, codes in enumerate(values):
        for code in codes:
            if code in columns:
                matrix[row, columns[code]] = True
    return matrix


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """A copy of ``array`` with ``size`` rows (new rows zero)."""
    if len(array) == size:
        return array.copy()
    grown = np.zeros((size, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
