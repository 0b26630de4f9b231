"""The provider's pages: its programmes, and the form that creates or edits one."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher.api.deps import OfferingId
from matcher.api.schemas import OfferingCreate, OfferingPatch
from matcher.api.web.amounts import AmountField, check_amount, known_amount
from matcher.api.web.session import (
    TAXONOMY,
    back,
    check_csrf,
    check_form,
    home_for,
    interface_language,
    notice_text,
    open_session,
    render,
    signed_in,
)
from matcher.services import interests, review
from matcher.services import offerings as offering_service
from matcher.services.access import Forbidden, Invalid, Principal
from matcher.services.matches import offering_matches
from matcher.taxonomy import PARTY_STATUSES, PROVIDER_KINDS, UN_LANGUAGES
from matcher.validation import ID_PATTERN

if TYPE_CHECKING:
    from matcher.store.models import Offering

router = APIRouter(include_in_schema=False)


@router.get("/programmes", response_class=HTMLResponse)
def my_programmes(request: Request, notice: str = "") -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if principal.role != "provider" and not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        filters = offering_service.OfferingFilters(provider_id=principal.provider, include_inactive=True)
        page = offering_service.list_offerings(session, principal, filters, limit=200, offset=0)
        visible = review.proposals_by_offering(session, principal, [offering.id for offering in page.items])
        accepted = {
            offering_id: [
                review.proposal_record(match, principal)
                for match in matches
                if match.state in review.VISIBLE_TO_OWNERS
            ]
            for offering_id, matches in visible.items()
        }
        return render(
            request,
            "programmes.html",
            principal,
            offerings=page.items,
            accepted=accepted,
            message=notice_text(request, notice),
        )


def _offering_form(
    request: Request, principal: Principal, offering: Offering | SimpleNamespace | None, **context: Any
) -> HTMLResponse:
    language = interface_language(request)
    for name in ("funding_min_usd", "funding_max_usd"):
        context.setdefault(name, known_amount(name, getattr(offering, name, None), language))
    return render(
        request,
        "offering_form.html",
        principal,
        offering=offering,
        statuses=PARTY_STATUSES,
        languages=UN_LANGUAGES,
        provider_kinds=PROVIDER_KINDS,
        **context,
    )


def _may_edit(principal: Principal, offering: Offering | None) -> None:
    if principal.is_staff:
        return
    if principal.role != "provider" or (offering is not None and offering.provider_id != principal.provider):
        raise Forbidden("only the programme's provider or the secretariat can edit it")


@router.get("/programmes/new", response_class=HTMLResponse)
def new_programme(request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        _may_edit(principal, None)
        return _offering_form(request, principal, None)


@router.get("/programmes/{offering_id}", response_class=HTMLResponse)
def edit_programme(offering_id: OfferingId, request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        offering = offering_service.get_offering(session, principal, offering_id)
        _may_edit(principal, offering)
        return _offering_form(request, principal, offering)


@router.post("/programmes/save")
def save_programme(
    request: Request,
    csrf: str = Form(""),
    offering_id: str = Form(""),
    provider: str = Form(""),
    title: str = Form(""),
    description: str = Form(""),
    sectors: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    regions: list[str] = Form([]),
    eligible_status: list[str] = Form([]),
    languages: list[str] = Form([]),
    countries: str = Form(""),
    funding_min_usd: str = Form(""),
    funding_max_usd: str = Form(""),
    funding_min_usd_shown: str = Form(""),
    funding_max_usd_shown: str = Form(""),
    funding_min_usd_confirmed: str = Form(""),
    funding_max_usd_confirmed: str = Form(""),
    url: str = Form(""),
    active: str = Form(""),
    provider_id: str = Form(""),
    provider_kind: str = Form(""),
    opens: str = Form(""),
    closes: str = Form(""),
    capacity: str = Form(""),
    contact: str = Form(""),
    how_to_apply: str = Form(""),
    provider_email: str = Form(""),
) -> Response:
    """Create or change a programme: every field of the interchange format but the
    secretariat's own (``verified``). Amounts are read in the interface language and shown
    back before they are saved."""
    check_csrf(request, csrf)

    data: dict[str, Any] = {
        "provider": provider.strip(),
        "title": title.strip(),
        "description": description.strip(),
        "sectors": [c for c in sectors if c in TAXONOMY.sectors],
        "assistance_types": [c for c in assistance_types if c in TAXONOMY.assistance_types],
        "regions": [c for c in regions if c in TAXONOMY.regions],
        "eligible_status": [c for c in eligible_status if c in PARTY_STATUSES],
        "languages": [c for c in languages if c in UN_LANGUAGES],
        "countries": [c.upper() for c in countries.replace(",", " ").split() if len(c) == 3],
        "url": url.strip() or None,
        "active": active == "on",
        "provider_kind": provider_kind if provider_kind in PROVIDER_KINDS else None,
        "contact": contact.strip() or None,
        "how_to_apply": how_to_apply.strip() or None,
        # Checked by the service; an empty field clears the provider's address.
        "provider_email": provider_email.strip() or None,
    }
    errors: list[str] = []
    for name, text in (("opens", opens), ("closes", closes)):
        try:
            data[name] = dt.date.fromisoformat(text.strip()) if text.strip() else None
        except ValueError:
            data[name] = None
            errors.append(name)
    try:
        data["capacity"] = int(capacity.strip()) if capacity.strip() else None  # bounds: the API's model
    except ValueError:
        data["capacity"] = None
        errors.append("capacity")
    language = interface_language(request)
    amounts: dict[str, AmountField] = {
        name: check_amount(name, text, language, shown=shown, confirmed=confirmed)
        for name, text, shown, confirmed in (
            ("funding_min_usd", funding_min_usd, funding_min_usd_shown, funding_min_usd_confirmed),
            ("funding_max_usd", funding_max_usd, funding_max_usd_shown, funding_max_usd_confirmed),
        )
    }
    for name, amount in amounts.items():
        data[name] = amount.value
        if amount.is_error:
            errors.append(name)
    if offering_id and not re.fullmatch(ID_PATTERN, offering_id):
        raise Invalid("not a programme id", [{"loc": "body.offering_id", "message": "not an id"}])
    with open_session(request) as session:
        principal = signed_in(request, session)
        current = offering_service.get_offering(session, principal, offering_id) if offering_id else None
        _may_edit(principal, current)
        if principal.is_staff and not offering_id:
            data["provider_id"] = provider_id.strip().lower() or None
        checked, problems = check_form(OfferingPatch if offering_id else OfferingCreate, data)
        errors = sorted({*errors, *problems})
        shown = SimpleNamespace(
            **{
                **data,
                "id": offering_id or "",
                "provider_id": provider_id,
                "verified": current.verified if current is not None else False,
            }
        )
        if errors:
            return _offering_form(
                request, principal, shown, errors=errors, status=422, editing=bool(offering_id), **amounts
            )
        if any(amount.blocks_saving for amount in amounts.values()):
            return _offering_form(request, principal, shown, editing=bool(offering_id), **amounts)
        try:
            if offering_id:
                offering_service.update_offering(
                    session, principal, offering_id, checked, matching=request.app.state.matching
                )
            else:
                offering_service.create_offering(
                    session, principal, checked, matching=request.app.state.matching
                )
        except Invalid as problem:
            session.rollback()
            fields = [detail["loc"].removeprefix("body.") for detail in problem.details] or ["form"]
            return _offering_form(
                request,
                principal,
                shown,
                errors=fields,
                problem=problem.message,
                status=422,
                editing=bool(offering_id),
                **amounts,
            )
    return back("/programmes", notice="saved")


@router.get("/programmes/{offering_id}/needs", response_class=HTMLResponse)
def fitting_needs(offering_id: str, request: Request, notice: str = "") -> Response:
    """The open needs that fit a programme (above the measured cut-off), for its provider
    (confidential needs left out) and the secretariat, with a way to express interest."""
    with open_session(request) as session:
        principal = signed_in(request, session)
        offering = offering_service.get_offering(session, principal, offering_id)
        _may_edit(principal, offering)
        if not offering.active:
            return back(f"/programmes/{offering_id}")
        settings = request.app.state.store.settings
        found = offering_matches(
            session,
            request.app.state.matching,
            principal,
            offering.id,
            k=50,
            min_score=settings.donor_min_score,
        )
        session.commit()  # embeddings of new text are cached
        return render(
            request,
            "programme_needs.html",
            principal,
            offering=offering,
            results=found["results"],
            min_score=settings.donor_min_score,
            message=notice_text(request, notice),
        )


@router.post("/programmes/{offering_id}/interest")
def express_interest(
    offering_id: str, request: Request, csrf: str = Form(""), need_id: str = Form(""), note: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        interests.express_interest(session, principal, offering_id, need_id, note)
        session.commit()
    return back(f"/programmes/{offering_id}/needs", notice="interest")
