"""History as evidence: which offering actually delivered which kind of help to whom.

A ``History`` is plain data: past needs (``PastNeed``: the need, its Party's region and name,
the offerings that served it, those proposed and turned down with the reason, the ranks
they were shown at) and one multilingual vector per past need. A service builds it from the
store (imported records and every decision of the review workflow), ``matcher eval`` from
the data files; ``matcher.engine.builder`` embeds it. ``HistoryEvidence`` binds it to one
catalogue and turns it into three score components over the candidate rows, each in [0, 1]
before its weight (``RankingWeights.history_*``):

* ``history_served``: of the past needs most similar to this one (the ``NEIGHBOURS``
  closest by multilingual cosine of the need texts, each weighing
  ``(cosine − SIMILARITY_FLOOR) / (1 − SIMILARITY_FLOOR)`` when positive), the weighted share
  the offering served, shrunk by ``SHRINK``: ``Σ w·[served] / (Σ w + SHRINK)``. One perfect
  twin gives 0.5, a few distant neighbours next to nothing;
* ``history_region``: the offering's record in the Party's region, in the need's kind of
  work: past needs of the region it served, each counting the cosine of its code profile
  with this need's (``n`` of them, ``n / (n + REGION_PRIOR)``). A record in other sectors
  says little, as a regional centre's country focus counts only in its own sectors;
* ``history_rejected`` (subtracted): the same neighbourhood's weighted share of past needs
  where the offering was proposed and rejected, each rejection counting by its reason's
  kind (``TRANSFER``).

With an empty history every column is zero, so the score is exactly the one without history.
A need's own record (its own decisions) is never evidence for itself.

Measured leave-group-out on the development set (history = the other case groups'
delivered pairs; 58 needs, 21 groups), shipped weights (umbrellas folded), nDCG@10: no
history 0.728; the served neighbours alone (weight 0.2) 0.759; with the region record (0.1)
0.766. A plain region count (every past need of the region alike) gave 0.770 on the dev set
but cost the probe set 0.019 (interval [−0.035, −0.006]): general agencies with a record in
the region passed the specialists the probe requests ask for; weighted by the code profiles
it costs the probe set 0.004 (within noise). Measured before the umbrella fold (no history
0.718, served neighbours with the region count 0.763): the similarity of neighbours uses
the need texts only, since adding the code profiles' cosine (half and half) gave 0.772 on
the dev set but lowered the request set by 0.006 and the probe set by 0.010; a popularity
prior (how often an offering served anything, ``n / (n + 5)``, weight 0.1) added 0.013 on
the dev set and cost the probe set 0.021; a country record (served this Party before, 0.1)
added 0.003 and cost the request set 0.007 (these two on top of the half-and-half
neighbours): both are shown in explanations, not scored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.engine.domain import NeedProfile, PartyProfile
from matcher.taxonomy import Taxonomy

IMPORTED = "history-import"  # engine_version of a proposal written by a history import
NEIGHBOURS = 10
SIMILARITY_FLOOR = 0.4  # USE cosine; two needs of different dev cases have a median of 0.43
SHRINK = 1.0
REGION_PRIOR = 5.0
EXAMPLES_SHOWN = 5

# What a rejection says about other needs, by the reason's kind. "not relevant" transfers to
# similar needs fully; "not eligible" only to needs of the same Party (eligibility is the
# catalogue's business otherwise); an offering "unavailable" (closed, full, out of money) may
# reopen, and an unclassified reason says less, so both count half; a duplicate says nothing
# about fit. (Only "not relevant" could be measured: simulating a secretariat that rejects the
# irrelevant proposals of the dev needs' top 10, a demotion of 0.1 added +0.007 nDCG@10
# leave-group-out, 0.2 added +0.015; 0.1 is kept so that one rejection only mildly demotes.)
REASON_KINDS = ("not_relevant", "not_eligible", "unavailable", "duplicate", "other")
TRANSFER = {"not_relevant": 1.0, "not_eligible": 0.0, "unavailable": 0.5, "duplicate": 0.0, "other": 0.5}
SAME_PARTY_TRANSFER = {**TRANSFER, "not_eligible": 1.0}
_KIND_WORDS = (
    ("duplicate", ("duplicate", "already proposed", "already served", "doublon", "duplicad")),
    ("not_eligible", ("eligib", "élig", "elegib", "not a party", "non-party", "not covered", "no cubre")),
    (
        "unavailable",
        ("closed", "no funds", "no funding", "capacity", "full", "deadline", "fermé", "cerrad", "agotad"),
    ),
    (
        "not_relevant",
        (
            "relevan",
            "pertinen",
            "scope",
            "unrelated",
            "does not cover",
            "doesn't cover",
            "not what",
            "mismatch",
            "wrong sector",
            "not suitable",
            "unsuitable",
            "hors sujet",
            "ámbito",
            "alcance",
        ),
    ),
)


def reason_kind(reason: str | None) -> str:
    """The kind of a rejection reason (one of ``REASON_KINDS``), from its words (English,
    French, Spanish); ``other`` when nothing matches."""
    text = (reason or "").lower()
    for kind, words in _KIND_WORDS:
        if any(word in text for word in words):
            return kind
    return "other"


@dataclass(frozen=True)
class Declined:
    """An offering proposed for a past need and turned down, with the reason given."""

    offering_id: str
    reason: str | None = None

    @property
    def kind(self) -> str:
        return reason_kind(self.reason)


@dataclass(frozen=True)
class PastNeed:
    """One past need and what came of it.

    ``party``: the requesting Party's profile (its region counts for the region record).
    ``served``: offerings that delivered (imported ``served_by``; accepted or introduced
    proposals). ``declined``: proposals rejected, with the reason. ``shown_at``: the rank each
    decided proposal was shown at (empty for imported records, which no ranking produced).
    ``group``: the case group, when known (evaluation and training leave whole groups out).
    ``sectors``: the codes the track record names (stated, else inferred). ``country``: the
    Party's display name.
    """

    need: NeedProfile
    party: PartyProfile | None = None
    country: str | None = None
    served: tuple[str, ...] = ()
    declined: tuple[Declined, ...] = ()
    shown_at: tuple[tuple[str, int], ...] = ()
    year: int | None = None
    group: str | None = None
    sectors: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The text embedded for similarity: the need's own text (``NeedProfile.text``)."""
        return self.need.text

    @property
    def region(self) -> str | None:
        return self.party.region if self.party is not None else None


@dataclass(frozen=True, eq=False)
class History:
    """Past needs and their multilingual vectors (unit rows, aligned). Immutable."""

    records: tuple[PastNeed, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32), repr=False)

    def __post_init__(self) -> None:
        if len(self.records) != len(self.vectors) and len(self.records) > 0:
            raise ValueError(f"{len(self.records)} past needs but {len(self.vectors)} vectors")

    def __len__(self) -> int:
        return len(self.records)

    def subset(self, keep: Callable[[PastNeed], bool]) -> History:
        """The records ``keep`` accepts, with their vectors (e.g. all but one case group)."""
        chosen = [row for row, record in enumerate(self.records) if keep(record)]
        if not chosen:
            return History()
        return History(tuple(self.records[row] for row in chosen), self.vectors[chosen])


@dataclass(frozen=True)
class Neighbours:
    """The past needs closest to one need (indices into ``History.records``) and their
    weights (> 0), best first; ``total`` is the sum of the weights."""

    indices: np.ndarray
    weights: np.ndarray
    similarities: np.ndarray

    @property
    def total(self) -> float:
        return float(self.weights.sum())


NO_NEIGHBOURS = Neighbours(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))


class HistoryEvidence:
    """A ``History`` bound to one catalogue's rows (``position``: offering id → row)."""

    def __init__(
        self, history: History, position: Mapping[str, int], size: int, profiles: np.ndarray | None = None
    ) -> None:
        """``profiles``: the past needs' code profiles (rows aligned with the records), for
        the region record; None counts every past need of the region alike."""
        self.history = history
        self.size = size
        self.profiles = profiles
        self.served_rows: list[np.ndarray] = []
        self.declined_rows: list[list[tuple[int, str]]] = []
        self.records_by_row: dict[int, list[int]] = defaultdict(list)
        regions: dict[str, list[int]] = defaultdict(list)
        self.by_need: dict[str, int] = {}
        for index, record in enumerate(history.records):
            self.by_need[record.need.id] = index
            rows = np.array(sorted({position[o] for o in record.served if o in position}), dtype=np.int64)
            self.served_rows.append(rows)
            self.declined_rows.append(
                [
                    (position[item.offering_id], item.kind)
                    for item in record.declined
                    if item.offering_id in position
                ]
            )
            for row in rows.tolist():
                self.records_by_row[row].append(index)
            if record.region and len(rows):
                regions[record.region].append(index)
        self.region_members = {region: np.array(members) for region, members in regions.items()}

    def __len__(self) -> int:
        return len(self.history)

    def neighbours(self, vector: np.ndarray | None, need_id: str) -> Neighbours:
        """The ``NEIGHBOURS`` past needs closest to ``vector`` (the need's multilingual
        vector) with a positive weight, the need's own record left out."""
        if vector is None or len(self.history) == 0:
            return NO_NEIGHBOURS
        similarity = self.history.vectors @ np.asarray(vector, dtype=np.float32)
        own = self.by_need.get(need_id)
        if own is not None:
            similarity[own] = -1.0
        weights = np.clip((similarity - SIMILARITY_FLOOR) / (1.0 - SIMILARITY_FLOOR), 0.0, None)
        count = min(NEIGHBOURS, len(weights))
        top = np.argpartition(-weights, count - 1)[:count]
        top = top[np.lexsort((top, -weights[top]))]
        top = top[weights[top] > 0]
        return Neighbours(top, weights[top].astype(float), similarity[top].astype(float))

    def columns(
        self,
        neighbours: Neighbours,
        need_id: str,
        party: PartyProfile,
        rows: np.ndarray,
        code_profile: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The unweighted history components over ``rows`` (each in [0, 1]), zeros when the
        history is empty. ``code_profile`` is the need's (``NeedQuery.code_profile``)."""
        served = np.zeros(self.size)
        rejected = np.zeros(self.size)
        for index, weight in zip(neighbours.indices.tolist(), neighbours.weights.tolist(), strict=True):
            served[self.served_rows[index]] += weight
            same_party = self.history.records[index].need.party == party.iso3
            transfer = SAME_PARTY_TRANSFER if same_party else TRANSFER
            for row, kind in self.declined_rows[index]:
                rejected[row] += weight * transfer[kind]
        denominator = neighbours.total + SHRINK
        in_region = np.zeros(self.size)
        members = self.region_members.get(party.region)
        if members is not None:
            if self.profiles is not None and code_profile is not None:
                weights = np.clip(self.profiles[members] @ code_profile, 0.0, None)
            else:
                weights = np.ones(len(members))
            own = self.by_need.get(need_id)
            for index, weight in zip(members.tolist(), weights.tolist(), strict=True):
                if index != own and weight > 0:
                    in_region[self.served_rows[index]] += weight
        return {
            "history_served": (served / denominator)[rows],
            "history_region": (in_region / (in_region + REGION_PRIOR))[rows],
            "history_rejected": np.minimum(1.0, rejected / denominator)[rows],
        }

    def track_record(
        self, row: int, neighbours: Neighbours, need_id: str, party: PartyProfile, taxonomy: Taxonomy
    ) -> dict[str, Any] | None:
        """What the history says of the offering at ``row`` for this need (None when it has
        no record at all): the similar past needs it served (examples), how many needs it
        served in all, whether it served this Party or region before, and similar needs
        where it was turned down."""
        records = self.history.records
        served_by = [index for index in self.records_by_row.get(row, []) if records[index].need.id != need_id]
        declined = [
            (index, kind)
            for index in neighbours.indices.tolist()
            for declined_row, kind in self.declined_rows[index]
            if declined_row == row
        ]
        if not served_by and not declined:
            return None
        served_set = set(served_by)
        similar = [
            (index, similarity)
            for index, similarity in zip(
                neighbours.indices.tolist(), neighbours.similarities.tolist(), strict=True
            )
            if index in served_set
        ]
        examples = [
            {
                "need_id": records[index].need.id,
                "title": records[index].need.title,
                "party": records[index].need.party,
                "country": records[index].country or records[index].need.party,
                "sectors": list(records[index].sectors),
                "year": records[index].year,
                "similarity": round(similarity, 4),
            }
            for index, similarity in similar[:EXAMPLES_SHOWN]
        ]
        in_country = any(records[index].need.party == party.iso3 for index in served_by)
        in_region = sum(1 for index in served_by if records[index].region == party.region)
        kinds: dict[str, int] = defaultdict(int)
        for _, kind in declined:
            kinds[kind] += 1
        return {
            "similar_served": len(similar),
            "served": len(served_by),
            "served_in_country": in_country,
            "served_in_region": in_region,
            "declined_similar": dict(kinds),
            "examples": examples,
            "text": _summary(len(similar), examples, len(served_by), in_country, dict(kinds), taxonomy),
        }


def _summary(
    similar: int,
    examples: Sequence[Mapping[str, Any]],
    served: int,
    in_country: bool,
    declined: Mapping[str, int],
    taxonomy: Taxonomy,
) -> str:
    """One English line for the reviewer, e.g. "delivered 3 similar projects: Artisanal and
    small-scale gold mining in Ghana, Peru; 11 in all; served this Party before"."""
    parts = []
    if similar:
        places: dict[str, list[str]] = {}
        for example in examples:
            code = example["sectors"][0] if example["sectors"] else None
            entry = taxonomy.sectors.get(code) if code else None
            label = entry.label_in("en") if entry is not None else "assistance"
            places.setdefault(label, [])
            if example["country"] not in places[label]:
                places[label].append(example["country"])
        listed = "; ".join(f"{label} in {', '.join(countries)}" for label, countries in places.items())
        noun = "project" if similar == 1 else "projects"
        parts.append(f"delivered {similar} similar {noun}: {listed}")
    if served > similar:
        parts.append(f"{served} in all" if similar else f"delivered {served} past projects")
    if in_country:
        parts.append("served this Party before")
    if declined:
        count = sum(declined.values())
        why = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in sorted(declined.items()))
        parts.append(f"turned down for {count} similar need{'s' if count != 1 else ''} ({why})")
    return "; ".join(parts)
