"""Umbrella and member entries: an organisation's umbrella entry and its programmes or areas.

An offering may name its umbrella in ``parent`` (the bundled catalogue marks the Global
Mercury Partnership's areas so). Files without the field get the same relation inferred
(``members_of``): an organisation (one ``provider_id``) whose entries are all of one kind,
one of which lists every sector each of the others lists, and more.

Why the kind must match: every organisation in the catalogue with several entries has one
that lists all sixteen sectors (the GEF Trust Fund, the Specific International Programme,
UNEP's Chemicals and Health Branch, the Partnership's umbrella), but only the Partnership's
entries are one organisation's umbrella and areas; the others are a fund beside projects run
by agencies, or a trust fund beside a secretariat's own assistance, and the judgments count
those funds as suitable alternatives in their own right. Folding all four under their
"members" lowered dev nDCG@10 from 0.718 to 0.684 and the request set's from 0.776 to 0.707;
folding the Partnership's umbrella alone raised them to 0.728 and 0.778 (probe 0.808 →
0.817).

How an umbrella ranks when a member fits (``fold``): when one of its members is among the
results shown, the umbrella is not proposed separately; it is named as the member's
context (``part_of`` in the member's explanation). Placing it right after its best member
instead changed nothing measurable (dev −0.002, requests −0.004).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Sequence

from matcher.engine.domain import OfferingProfile


def members_of(offerings: Sequence[OfferingProfile]) -> dict[str, str]:
    """Member offering id → its umbrella's id, over ``offerings``.

    An explicit ``parent`` naming an offering of the same set wins. The relation is inferred
    only for organisations none of whose entries names a parent: all entries of one
    ``provider_kind``, exactly one of them (the umbrella) listing every sector of each of the
    others and strictly more sectors than each.
    """
    known = {offering.id for offering in offerings}
    members: dict[str, str] = {}
    by_provider: dict[str, list[OfferingProfile]] = defaultdict(list)
    for offering in offerings:
        by_provider[offering.provider_id].append(offering)
    for entries in by_provider.values():
        members.update(provider_members(entries, known))
    return members


def provider_members(entries: Sequence[OfferingProfile], known: Container[str]) -> dict[str, str]:
    """``members_of`` for one organisation's ``entries`` (``known``: every offering id of
    the set, for explicit parents). The relation never crosses organisations, so a change
    recomputes only the organisations it touches (``RankingEngine.with_changes``)."""
    explicit = {o.id: o.parent for o in entries if o.parent and o.parent in known and o.parent != o.id}
    if explicit:
        return explicit
    if any(o.parent for o in entries):  # a parent outside this set: nothing to infer from
        return {}
    umbrella = _umbrella(entries)
    if umbrella is None:
        return {}
    return {o.id: umbrella.id for o in entries if o.id != umbrella.id}


def _umbrella(entries: Sequence[OfferingProfile]) -> OfferingProfile | None:
    if len(entries) < 2 or len({entry.provider_kind for entry in entries}) != 1:
        return None
    found = [
        candidate
        for candidate in entries
        if all(
            set(other.sectors) <= set(candidate.sectors) and len(other.sectors) < len(candidate.sectors)
            for other in entries
            if other.id != candidate.id
        )
    ]
    return found[0] if len(found) == 1 else None


def folded(shown: Sequence[str], members: dict[str, str]) -> set[str]:
    """The umbrellas among ``shown`` (offering ids) one of whose members is also shown."""
    present = set(shown)
    return {members[offering_id] for offering_id in shown if members.get(offering_id) in present}
