"""Needs: who may see, file, change and withdraw them, and how they look to callers.

* secretariat and admin: every need; they file needs on behalf of a Party;
* party: its own needs only (any other need is "not found", so existence never leaks);
* provider: open (``submitted``, ``in_review``), non-confidential needs, read only.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, select
from sqlalchemy.orm import Session

from matcher.engine.challenges import assess_statement
from matcher.engine.domain import NeedProfile
from matcher.engine.query import NeedQuery
from matcher.engine.understanding import Coaching, Reading, default_reader
from matcher.services import automatic
from matcher.services.access import Conflict, Forbidden, Invalid, NotFound, Principal, audit, plain
from matcher.services.matching import MatchingService, need_profile
from matcher.services.notifications import queue_notice
from matcher.services.paging import Page, paginate
from matcher.services.queries import about_assistance_type, about_sector
from matcher.services.review import close_undecided
from matcher.store.models import Match, Need, Party, utcnow
from matcher.taxonomy import FINAL_NEED_STATUSES, OPEN_NEED_STATUSES

EDITABLE = (
    "title",
    "description",
    "language",
    "sectors",
    "assistance_types",
    "budget_usd",
    "deadline",
    "confidential",
)


def can_see(principal: Principal, need: Need) -> bool:
    if principal.is_staff:
        return True
    if principal.role == "party":
        return need.party_iso3 == principal.party
    if principal.role == "provider":
        return need.status in OPEN_NEED_STATUSES and not need.confidential
    return False


def _visible(principal: Principal) -> Any:
    """The visibility rule as a query condition."""
    if principal.is_staff:
        return True
    if principal.role == "party":
        return Need.party_iso3 == principal.party
    if principal.role == "provider":
        return and_(Need.status.in_(OPEN_NEED_STATUSES), Need.confidential.is_(False))
    return false()


def get_need(session: Session, principal: Principal, need_id: str) -> Need:
    need = session.get(Need, need_id)
    if need is None or not can_see(principal, need):
        raise NotFound(f"no need {need_id!r}")
    return need


@dataclass(frozen=True)
class NeedFilters:
    party: str | None = None
    status: str | None = None
    sector: str | None = None
    assistance_type: str | None = None
    language: str | None = None
    region: str | None = None


def list_needs(
    session: Session, principal: Principal, filters: NeedFilters, *, limit: int, offset: int
) -> Page[Need]:
    """Visible needs, oldest first. ``sector`` and ``assistance_type`` match stated or inferred codes."""
    query = select(Need).where(_visible(principal))
    if filters.party:
        query = query.where(Need.party_iso3 == filters.party.upper())
    if filters.status:
        query = query.where(Need.status == filters.status)
    if filters.language:
        query = query.where(Need.language == filters.language)
    if filters.sector:
        query = query.where(about_sector(filters.sector))
    if filters.assistance_type:
        query = query.where(about_assistance_type(filters.assistance_type))
    if filters.region:
        query = query.join(Party, Party.iso3 == Need.party_iso3).where(Party.un_region == filters.region)
    return paginate(session, query.order_by(Need.created_at, Need.id), limit, offset)


def _understand(need: Need) -> None:
    """Fill the detected language (when none is given), the inferred codes, and how the
    needs assessment reads the text (vague flag, challenge kind)."""
    reader = default_reader()
    reading = reader.read(
        need.title, need.description, need.language, need.sectors or [], need.assistance_types or []
    )
    need.language = reading.language
    need.inferred_sectors = list(reading.inferred_sectors)
    need.inferred_assistance_types = list(reading.inferred_assistance_types)
    need.vague, challenge = assess_statement(reader, need_profile(need), reading)
    need.challenge_kind = challenge.kind


def snapshot(need: Need) -> dict[str, Any]:
    """The need's fields as JSON-ready values (for audit events)."""
    return {
        "party": need.party_iso3,
        **{name: plain(getattr(need, name)) for name in EDITABLE},
        "status": need.status,
    }


def _check_deadline(deadline: dt.date | None) -> None:
    """A deadline set when a need is filed or changed is not in the past. Yesterday (UTC)
    still counts, for a Party whose day has not ended yet; imports keep history as it was."""
    if deadline is not None and deadline < utcnow().date() - dt.timedelta(days=1):
        raise Invalid(
            f"the deadline {deadline.isoformat()} is in the past",
            [{"loc": "body.deadline", "message": "is in the past: give today or a later date"}],
        )


def _commit_and_reflect(session: Session, matching: MatchingService, need: Need) -> None:
    """Commit the need's write with its follow-up job, bring the matching service up to date
    (the open-needs index), then run the job: the need's proposals follow at once (a job left
    undone by a crash is run by any worker later). Every need write ends here."""
    queued = [automatic.queue_need(session, need)] if need.status in OPEN_NEED_STATUSES else []
    matching.embed_ahead(session, needs=[need])
    session.commit()
    matching.need_changed(session, need.id)
    session.commit()
    automatic.run_now(session, matching, queued)


def create_need(
    session: Session,
    principal: Principal,
    data: Mapping[str, Any],
    *,
    matching: MatchingService,
    draft: bool = False,
    need_id: str | None = None,
) -> Need:
    """File a need and commit it. A party key files for its own Party; staff name the Party
    in ``party``. The matching service reflects it before this returns. ``draft``: the need
    waits in ``draft`` (not matched, not counted as open) until the Party confirms it
    (``confirm_draft``). ``need_id``: a chosen id (the demo data's ``demo-`` ids)."""
    if principal.role == "party":
        party = principal.party
        if data.get("party") and str(data["party"]).upper() != party:
            raise Forbidden("a party key files needs for its own Party only")
    elif principal.is_staff:
        if not data.get("party"):
            raise Invalid(
                "name the Party the need is filed for",
                [{"loc": "body.party", "message": "required when the secretariat files a need"}],
            )
        party = str(data["party"]).upper()
        if session.get(Party, party) is None:
            raise Invalid(
                f"unknown party {party!r}", [{"loc": "body.party", "message": "not in the parties list"}]
            )
    else:
        raise Forbidden("only a Party or the secretariat can file a need")
    _check_deadline(data.get("deadline"))
    need = Need(
        id=need_id or f"need-{secrets.token_hex(6)}",
        party_iso3=party,
        status="draft" if draft else "submitted",
    )
    for name in EDITABLE:
        if name in data:
            setattr(need, name, data[name])
    need.sectors = need.sectors or []
    need.assistance_types = need.assistance_types or []
    need.confidential = bool(need.confidential)
    _understand(need)
    session.add(need)
    session.flush()
    audit(session, principal, "need.create", "need", need.id, after=snapshot(need))
    queue_notice(session, "need.received", need=need)
    _commit_and_reflect(session, matching, need)
    return need


def _check_can_change(principal: Principal, need: Need) -> None:
    if principal.role == "provider":
        raise Forbidden("providers read needs; only the Party or the secretariat can change them")
    if not (principal.is_staff or need.party_iso3 == principal.party):
        raise NotFound(f"no need {need.id!r}")
    if need.status in FINAL_NEED_STATUSES:
        raise Conflict(f"the need is {need.status}; it can no longer change")


def update_need(
    session: Session,
    principal: Principal,
    need_id: str,
    changes: Mapping[str, Any],
    *,
    matching: MatchingService,
) -> Need:
    """Change the fields in ``changes`` and commit; the matching service reflects the change."""
    need = get_need(session, principal, need_id)
    _check_can_change(principal, need)
    if changes.get("deadline") != need.deadline:
        _check_deadline(changes.get("deadline"))
    before = snapshot(need)
    for name, value in changes.items():
        if name not in EDITABLE:
            raise Invalid(
                f"{name} cannot be changed here", [{"loc": f"body.{name}", "message": "not editable"}]
            )
        if name in ("sectors", "assistance_types") and value is None:
            value = []
        setattr(need, name, value)
    _understand(need)
    session.flush()
    after = snapshot(need)
    if after != before:
        changed = [name for name in after if after[name] != before[name]]
        audit(
            session,
            principal,
            "need.update",
            "need",
            need.id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    _commit_and_reflect(session, matching, need)
    return need


def withdraw_need(
    session: Session,
    principal: Principal,
    need_id: str,
    *,
    matching: MatchingService,
    reason: str | None = None,
) -> Need:
    """Withdraw the need (nothing is deleted) with an optional reason, close its undecided
    proposals, and commit; it leaves every ranking."""
    need = get_need(session, principal, need_id)
    _check_can_change(principal, need)
    before = need.status
    need.status = "withdrawn"
    need.withdraw_reason = reason.strip() if reason and reason.strip() else None
    session.flush()
    audit(
        session,
        principal,
        "need.withdraw",
        "need",
        need.id,
        before={"status": before},
        after={"status": "withdrawn", "reason": need.withdraw_reason},
    )
    close_undecided(session, principal, _proposals_of(session, need), "need_withdrawn")
    queue_notice(session, "need.status", need=need, details={"from": before, "to": "withdrawn"})
    _commit_and_reflect(session, matching, need)
    return need


def confirm_draft(session: Session, principal: Principal, need_id: str, *, matching: MatchingService) -> Need:
    """The Party (or the secretariat for it) confirms a draft need: it becomes ``submitted``
    and is matched like any new need (the job is queued in the same commit)."""
    need = get_need(session, principal, need_id)
    _check_can_change(principal, need)
    if need.status != "draft":
        raise Conflict(
            f"the need is {need.status}, not a draft", [{"loc": "status", "message": "must be draft"}]
        )
    need.status = "submitted"
    session.flush()
    audit(
        session,
        principal,
        "need.confirm",
        "need",
        need.id,
        before={"status": "draft"},
        after={"status": "submitted"},
    )
    _commit_and_reflect(session, matching, need)
    return need


def discard_draft(
    session: Session,
    principal: Principal,
    need_id: str,
    *,
    matching: MatchingService,
    reason: str | None = None,
) -> Need:
    """Discard a draft need: it is withdrawn with a reason, never deleted, so the audit trail
    and the answer it came from keep pointing at it (the assessment counts discarded drafts)."""
    need = get_need(session, principal, need_id)
    if need.status != "draft":
        raise Conflict(
            f"the need is {need.status}, not a draft", [{"loc": "status", "message": "must be draft"}]
        )
    return withdraw_need(
        session, principal, need_id, matching=matching, reason=(reason or "").strip() or "draft discarded"
    )


def _proposals_of(session: Session, need: Need) -> list[Match]:
    return list(session.scalars(select(Match).where(Match.need_id == need.id)))


def preview_need(principal: Principal, data: Mapping[str, Any]) -> tuple[Reading, Coaching]:
    """What filing ``data`` would give, with nothing written: the reading (language, inferred
    codes) and the coaching, from one tagging of the text."""
    reader = default_reader()
    reading = reader.read(
        data["title"],
        data["description"],
        data.get("language"),
        data.get("sectors") or (),
        data.get("assistance_types") or (),
    )
    draft = NeedProfile(
        id="draft",
        party=principal.party or "",
        title=data["title"],
        description=data["description"],
        language=reading.language,
        sectors=tuple(data.get("sectors") or ()),
        assistance_types=tuple(data.get("assistance_types") or ()),
        inferred_sectors=reading.inferred_sectors,
        inferred_assistance_types=reading.inferred_assistance_types,
        budget_usd=data.get("budget_usd"),
    )
    return reading, reader.assess(draft, reading.evidence)


def coaching_for(need: Need, query: NeedQuery | None = None) -> Coaching:
    return default_reader().assess(query if query is not None else need_profile(need))


def need_record(need: Need, coaching: Coaching | None = None) -> dict[str, Any]:
    """The need as callers see it: stated and inferred codes apart, with coaching."""
    coaching = coaching or coaching_for(need)
    return {
        "id": need.id,
        "party": need.party_iso3,
        "title": need.title,
        "description": need.description,
        "language": need.language,
        "sectors": list(need.sectors or []),
        "assistance_types": list(need.assistance_types or []),
        "inferred": {
            "sectors": list(need.inferred_sectors or []),
            "assistance_types": list(need.inferred_assistance_types or []),
        },
        "budget_usd": need.budget_usd,
        "deadline": need.deadline,
        "confidential": need.confidential,
        "status": need.status,
        "withdraw_reason": need.withdraw_reason,
        "created_at": need.created_at,
        "updated_at": need.updated_at,
        "coaching": coaching.as_dict(),
    }
