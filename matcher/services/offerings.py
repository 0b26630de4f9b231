"""Offerings: any key reads the catalog; a provider key creates and changes the
offerings of its own ``provider_id``; the secretariat and admin change any. Nothing is
deleted: deactivation is ``active: false``.

Only the secretariat vouches for an offering: one a provider creates starts
``verified: false`` (demoted in rankings and flagged) until the secretariat sets it, and
a provider cannot set the flag itself.

``provider_email``, where the provider's notices go, is read and written with an offering
but kept on the provider, so every offering of one provider shows the same address."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from matcher.addresses import optional_email
from matcher.services import automatic
from matcher.services.access import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Principal,
    audit,
    plain,
    require_staff,
)
from matcher.services.matching import MatchingService
from matcher.services.paging import Page, paginate
from matcher.services.queries import has_code
from matcher.services.review import close_undecided
from matcher.store.models import Match, Offering, Party, Provider

EDITABLE = (
    "provider",
    "provider_kind",
    "title",
    "description",
    "sectors",
    "assistance_types",
    "regions",
    "eligible_status",
    "countries",
    "languages",
    "funding_min_usd",
    "funding_max_usd",
    "url",
    "verified",
    "active",
    "opens",
    "closes",
    "capacity",
    "contact",
    "how_to_apply",
)
# What the secretariat checks when it verifies a programme: a provider's change to any of
# them sets the programme back to unverified until staff look again.
VOUCHED_FOR = (
    "title",
    "description",
    "sectors",
    "assistance_types",
    "regions",
    "eligible_status",
    "countries",
)
LIST_FIELDS = ("sectors", "assistance_types", "regions", "eligible_status", "countries", "languages")


def get_offering(session: Session, principal: Principal, offering_id: str) -> Offering:
    offering = session.get(Offering, offering_id)
    if offering is None:
        raise NotFound(f"no offering {offering_id!r}")
    return offering


@dataclass(frozen=True)
class OfferingFilters:
    provider_id: str | None = None
    sector: str | None = None
    assistance_type: str | None = None
    region: str | None = None
    include_inactive: bool = False
    verified: bool | None = None


def list_offerings(
    session: Session, principal: Principal, filters: OfferingFilters, *, limit: int, offset: int
) -> Page[Offering]:
    query = select(Offering).options(selectinload(Offering.provider_ref))  # provider_email, no query per row
    if not filters.include_inactive:
        query = query.where(Offering.active.is_(True))
    if filters.provider_id:
        query = query.where(Offering.provider_id == filters.provider_id)
    if filters.verified is not None:
        query = query.where(Offering.verified.is_(filters.verified))
    for column, code in (
        (Offering.sectors, filters.sector),
        (Offering.assistance_types, filters.assistance_type),
        (Offering.regions, filters.region),
    ):
        if code:
            query = query.where(has_code(column, code))
    return paginate(session, query.order_by(Offering.id), limit, offset)


def snapshot(offering: Offering) -> dict[str, Any]:
    return {
        "provider_id": offering.provider_id,
        **{name: plain(getattr(offering, name)) for name in EDITABLE},
        "provider_email": offering.provider_email,
    }


def _checked_provider_email(value: Any) -> str | None:
    """A provider address from the API or a form: checked and lower-cased (None clears it)."""
    try:
        return optional_email(value)
    except ValueError as problem:
        raise Invalid(str(problem), [{"loc": "body.provider_email", "message": str(problem)}]) from None


def _check_ranges(offering: Offering) -> None:
    low, high = offering.funding_min_usd, offering.funding_max_usd
    if low is not None and high is not None and low > high:
        raise Invalid(
            "funding_min_usd is greater than funding_max_usd",
            [{"loc": "body.funding_min_usd", "message": "must not exceed funding_max_usd"}],
        )
    if offering.opens and offering.closes and offering.opens > offering.closes:
        raise Invalid("opens is after closes", [{"loc": "body.opens", "message": "must not be after closes"}])


def _check_countries(session: Session, countries: list[str]) -> None:
    unknown = [code for code in countries if session.get(Party, code) is None]
    if unknown:
        raise Invalid(
            f"unknown countries: {', '.join(unknown)}",
            [{"loc": "body.countries", "message": f"not in the parties list: {', '.join(unknown)}"}],
        )


def _commit_and_reflect(
    session: Session, principal: Principal, matching: MatchingService, offering: Offering
) -> None:
    """Commit the offering's write with its follow-up, bring the indexes and the engine up to
    date, then re-match what it affects. An active offering queues a re-match around it; an
    inactive one closes its undecided proposals in this transaction and queues a re-match of
    each need that lost one (to fill the slot). Every offering write ends here."""
    if offering.active:
        queued = [automatic.queue_offering(session, offering)]
    else:
        undecided = list(
            session.scalars(select(Match).where(Match.offering_id == offering.id, Match.state == "proposed"))
        )
        close_undecided(session, principal, undecided, "offering_inactive")
        queued = [automatic.queue_need(session, match.need) for match in undecided]
    matching.embed_ahead(session, offerings=[offering])
    session.commit()
    matching.offering_changed(session, offering.id)
    session.commit()
    automatic.run_now(session, matching, queued)


def create_offering(
    session: Session, principal: Principal, data: Mapping[str, Any], *, matching: MatchingService
) -> Offering:
    """Create an offering and commit it; the next ranking includes it."""
    provider_id: str | None
    if principal.role == "provider":
        provider_id = principal.provider
        if provider_id is None:  # excluded by the api_keys CHECK constraint; never trust it blindly
            raise Forbidden("this provider key names no provider_id")
        if data.get("provider_id") and data["provider_id"] != provider_id:
            raise Forbidden("a provider key creates offerings for its own provider_id only")
    elif principal.is_staff:
        provider_id = data.get("provider_id")
        if not provider_id:
            raise Invalid(
                "name the provider the offering belongs to",
                [{"loc": "body.provider_id", "message": "required when the secretariat creates an offering"}],
            )
    else:
        raise Forbidden("only a provider or the secretariat can create an offering")
    if not principal.is_staff:
        if data.get("verified"):
            raise Forbidden(
                "only the secretariat marks an offering verified",
                [{"loc": "body.verified", "message": "leave it out: new offerings start unverified"}],
            )
        data = {**data, "verified": False}
    provider_email = _checked_provider_email(data.get("provider_email"))
    provider = session.get(Provider, provider_id)
    if provider is None:
        provider = Provider(provider_id=provider_id, name=data["provider"])
        session.add(provider)
    if provider_email is not None:  # a new offering without an address leaves the provider's as it is
        provider.email = provider_email
    offering = Offering(id=f"off-{secrets.token_hex(6)}", provider_id=provider_id)
    for name in EDITABLE:
        if name in data and data[name] is not None:
            setattr(offering, name, data[name])
    for name in LIST_FIELDS:
        setattr(offering, name, getattr(offering, name) or [])
    _check_ranges(offering)
    _check_countries(session, offering.countries)
    session.add(offering)
    session.flush()
    audit(session, principal, "offering.create", "offering", offering.id, after=snapshot(offering))
    _commit_and_reflect(session, principal, matching, offering)
    return offering


def update_offering(
    session: Session,
    principal: Principal,
    offering_id: str,
    changes: Mapping[str, Any],
    *,
    matching: MatchingService,
) -> Offering:
    """Change the fields in ``changes`` (``active: false`` deactivates) and commit; the next
    ranking reflects it."""
    offering = get_offering(session, principal, offering_id)
    if not (
        principal.is_staff or (principal.role == "provider" and principal.provider == offering.provider_id)
    ):
        raise Forbidden("only the offering's provider or the secretariat can change it")
    if "verified" in changes and not principal.is_staff and changes["verified"] != offering.verified:
        raise Forbidden(
            "only the secretariat changes whether an offering is verified",
            [{"loc": "body.verified", "message": "secretariat only"}],
        )
    before = snapshot(offering)
    for name, value in changes.items():
        if name == "provider_email":
            offering.provider_ref.email = _checked_provider_email(value)
            continue
        if name not in EDITABLE:
            raise Invalid(
                f"{name} cannot be changed here", [{"loc": f"body.{name}", "message": "not editable"}]
            )
        if name in LIST_FIELDS and value is None:
            value = []
        setattr(offering, name, value)
    _check_ranges(offering)
    _check_countries(session, offering.countries)
    changed = [name for name in EDITABLE if plain(getattr(offering, name)) != before[name]]
    if not principal.is_staff and offering.verified and set(changed) & set(VOUCHED_FOR):
        # The secretariat vouched for the text and eligibility it read, not for new ones.
        offering.verified = False
    session.flush()
    after = snapshot(offering)
    changed = [name for name in after if after[name] != before[name]]
    if changed:
        action = "offering.deactivate" if before["active"] and not after["active"] else "offering.update"
        audit(
            session,
            principal,
            action,
            "offering",
            offering.id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    _commit_and_reflect(session, principal, matching, offering)
    return offering


def verify_offering(
    session: Session, principal: Principal, offering_id: str, *, matching: MatchingService
) -> Offering:
    """The secretariat vouches for a programme (its existence, text and eligibility): it is
    no longer demoted or flagged in rankings. Commits; audited."""
    require_staff(principal, "verify programmes")
    offering = get_offering(session, principal, offering_id)
    if offering.verified:
        return offering
    offering.verified = True
    session.flush()
    audit(
        session,
        principal,
        "offering.verify",
        "offering",
        offering.id,
        before={"verified": False},
        after={"verified": True},
    )
    _commit_and_reflect(session, principal, matching, offering)
    return offering


def reject_offering(
    session: Session, principal: Principal, offering_id: str, reason: str, *, matching: MatchingService
) -> Offering:
    """The secretariat turns down an unverified programme: it is deactivated (nothing is
    deleted) with the reason, and its undecided proposals close. Commits; audited."""
    require_staff(principal, "reject programmes")
    if not reason or not reason.strip():
        raise Invalid(
            "a rejection needs a reason", [{"loc": "body.reason", "message": "required, not empty"}]
        )
    offering = get_offering(session, principal, offering_id)
    if offering.verified:
        raise Conflict("the programme is verified: deactivate it instead (active: false)")
    before = {"active": offering.active}
    offering.active = False
    session.flush()
    audit(
        session,
        principal,
        "offering.reject",
        "offering",
        offering.id,
        before=before,
        after={"active": False, "reason": reason.strip()},
    )
    _commit_and_reflect(session, principal, matching, offering)
    return offering


def offering_record(offering: Offering) -> dict[str, Any]:
    return {
        "id": offering.id,
        "provider_id": offering.provider_id,
        **{name: getattr(offering, name) for name in EDITABLE},
        "provider_email": offering.provider_email,
        "parent": offering.parent,
        "created_at": offering.created_at,
        "updated_at": offering.updated_at,
    }
