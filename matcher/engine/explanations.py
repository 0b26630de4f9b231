"""Why an offering was proposed: the explanation attached to every ranked result.

An explanation holds the score's components, the sectors and assistance types matched
(stated apart from inferred), the matched terms (rarest first), the best sentence pair, the
constraints passed, the budget fit, the unverified flag and the notice that this is a
suggestion for secretariat review, not a decision. It is JSON-ready: the API, ``matcher
rank`` and stored proposals carry it as is.

Matched terms credit only what the Party wrote (``NeedQuery.own_terms``): its own words, and
the English counterparts of the keywords its text matched. ``matched_terms`` is the list of
those terms found in the offering (English strings, as before); ``matched_pairs`` shows each
counterpart beside the Party's wording (``{"need": "fundición de estaño", "english": "tin
smelting"}``), so a translation is never passed off as the Party's word.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from matcher.engine.catalogue import Catalogue
from matcher.engine.components import SentencePair, budget_gap
from matcher.engine.domain import OfferingProfile
from matcher.engine.eligibility import CONSTRAINTS
from matcher.engine.query import NeedQuery

NOTICE = "This is a suggestion for secretariat review, not a decision."
COMMON_TERM_SHARE = 0.3  # a term in more of the catalogue than this explains nothing
MATCHED_TERMS_SHOWN = 8
SMALL_CATALOGUE = 10  # below this many offerings, document frequencies say nothing


def explain(
    query: NeedQuery,
    offering: OfferingProfile,
    components: Mapping[str, float],
    catalogue: Catalogue,
    sentence_pair: SentencePair | None,
) -> dict[str, Any]:
    """The explanation of ``offering``'s place in ``query``'s ranking (``offering`` is one of
    ``catalogue``'s; ``components`` are its final weighted components)."""
    need, evidence = query.need, query.evidence
    stated_sectors = [code for code in need.sectors if code in offering.sectors]
    inferred_sectors = [
        code for code in evidence.codes("sectors") if code in offering.sectors and code not in need.sectors
    ]
    stated_types = [code for code in need.assistance_types if code in offering.assistance_types]
    inferred_types = [
        code
        for code in evidence.codes("assistance_types")
        if code in offering.assistance_types and code not in need.assistance_types
    ]
    return {
        # + 0.0 turns a rounded -0.0 into 0.0, so the JSON never shows "-0.0".
        "components": {name: round(value, 6) + 0.0 for name, value in components.items()},
        "matched": {
            "sectors": {"stated": stated_sectors, "inferred": inferred_sectors},
            "assistance_types": {"stated": stated_types, "inferred": inferred_types},
        },
        "matched_terms": matching_terms(query, catalogue, catalogue.position[offering.id])[
            :MATCHED_TERMS_SHOWN
        ],
        "matched_pairs": matching_pairs(query, catalogue, catalogue.position[offering.id]),
        "sentence_pair": sentence_pair.as_dict() if sentence_pair is not None else None,
        "constraints_passed": list(CONSTRAINTS),
        "budget": budget_note(need.budget_usd, offering.funding_min_usd, offering.funding_max_usd),
        "unverified": not offering.verified,
        "notice": NOTICE,
    }


def _telling(catalogue: Catalogue, row: int) -> Callable[[str], bool]:
    """Whether a term is in the offering at ``row`` and telling: terms found in more than
    ``COMMON_TERM_SHARE`` of the catalogue ("mercury", "support") explain nothing."""
    terms = catalogue.terms[row]
    size = len(catalogue)
    common = COMMON_TERM_SHARE * size
    frequency = catalogue.document_frequency
    return lambda term: term in terms and (size < SMALL_CATALOGUE or frequency.get(term, 0) <= common)


def matching_terms(query: NeedQuery, catalogue: Catalogue, row: int) -> list[str]:
    """The need's own terms (``NeedQuery.own_terms``) found in the offering at ``row``,
    rarest (most telling) first."""
    telling = _telling(catalogue, row)
    frequency = catalogue.document_frequency
    shared = [term for term in query.own_terms if telling(term)]
    return sorted(shared, key=lambda term: (frequency.get(term, 0), term))


def matching_pairs(query: NeedQuery, catalogue: Catalogue, row: int) -> list[dict[str, str]]:
    """The translations behind matched terms: each keyword the need matched, as the taxonomy
    writes it, with its English counterpart, when a term of the counterpart is in the offering
    at ``row``."""
    telling = _telling(catalogue, row)
    return [
        {"need": need, "english": english}
        for need, english, terms in query.translation_terms
        if any(telling(term) for term in terms)
    ][:MATCHED_TERMS_SHOWN]


def budget_note(budget: float | None, low: float | None, high: float | None) -> dict[str, Any]:
    """How the need's budget sits against the offering's funding range, and the penalty."""
    gap = budget_gap(budget, low, high)
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
