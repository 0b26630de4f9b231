"""The workbench: server-rendered pages for the secretariat, Parties and providers.

Signing in stores the API key in an HttpOnly, SameSite=Strict cookie; every page
authenticates it exactly as the API does, and calls the same service functions, so a page
can never show or change more than the key's role allows through the API. Every form that
changes something carries a token derived from the session (HMAC with a per-process
secret), checked before the change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.api.web.i18n import INTERFACE_LANGUAGES, part_name, state_name, translator
from matcher.engine.understanding import default_reader
from matcher.services import needs as need_service
from matcher.services import offerings as offering_service
from matcher.services import review
from matcher.services.access import (
    Conflict,
    Forbidden,
    Invalid,
    NotAuthenticated,
    Principal,
    ServiceError,
    authenticate,
)
from matcher.services.matching import MatchingService, need_profile
from matcher.services.reports import as_csv, unmet_needs
from matcher.store.models import AuditEvent, Match, Need, Offering
from matcher.taxonomy import PARTY_STATUSES, UN_LANGUAGES, load_taxonomy

SESSION_COOKIE = "mm_session"
LANGUAGE_COOKIE = "mm_lang"
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
TAXONOMY = load_taxonomy()
RTL = ("ar",)
NATIVE_NAMES = {
    "ar": "العربية",
    "zh": "中文",
    "en": "English",
    "fr": "Français",
    "ru": "Русский",
    "es": "Español",
}


class SignInRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect to sign in."""


# ---------------------------------------------------------------------------- plumbing


def _session(request: Request) -> Session:
    session: Session = request.app.state.store.sessions()
    return session


def _principal(request: Request, session: Session) -> Principal | None:
    try:
        return authenticate(session, request.cookies.get(SESSION_COOKIE))
    except NotAuthenticated:
        return None


def _csrf(request: Request) -> str:
    key = request.cookies.get(SESSION_COOKIE, "")
    secret: bytes = request.app.state.web_secret
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:40]


def _check_csrf(request: Request, token: str) -> None:
    if not request.cookies.get(SESSION_COOKIE) or not hmac.compare_digest(_csrf(request), token or ""):
        raise ServiceError("the form expired or did not come from this site; reload the page and try again")


def _language(request: Request) -> str:
    """The reader's chosen language: one of the six UN languages. The interface text exists
    in English, French and Spanish; taxonomy labels exist in all six."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in UN_LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "")[:2].lower()
    return accepted if accepted in UN_LANGUAGES else "en"


def _label(family: str, code: str, language: str) -> str:
    entry = getattr(TAXONOMY, family).get(code)
    return entry.label_in(language) if entry is not None else code


def _render(
    request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    language = _language(request)
    interface = language if language in INTERFACE_LANGUAGES else "en"
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": translator(interface),
            "ui": interface,
            "label_lang": language,
            "label_dir": "rtl" if language in RTL else "ltr",
            "ui_languages": [(code, NATIVE_NAMES[code]) for code in UN_LANGUAGES],
            "principal": principal,
            "csrf": _csrf(request),
            "label": lambda family, code: _label(family, code, language),
            "taxonomy": TAXONOMY,
            "rtl": RTL,
            "path": request.url.path,
            "state_name": lambda state: state_name(interface, state),
            "part_name": lambda part: part_name(interface, part),
            "today": dt.date.today().isoformat(),
            "plain_json": lambda value: json.dumps(value or {}, ensure_ascii=False, default=str),
            **context,
        },
        status_code=status,
    )


QUEUE_PAGE = 20


def _query(request: Request, drop: tuple[str, ...] = ("notice",)) -> str:
    return urlencode([(key, value) for key, value in request.query_params.multi_items() if key not in drop])


def _here(request: Request) -> str:
    """This page's address without its notice, for forms to come back to."""
    query = _query(request)
    return request.url.path + (f"?{query}" if query else "")


def _notice(request: Request, code: str) -> str | None:
    """A notice rebuilt from a short code, so a crafted link cannot put words on the page."""
    t = translator(_language(request) if _language(request) in INTERFACE_LANGUAGES else "en")
    parts = code.split(":")
    if parts[0] == "run" and len(parts) == 4 and all(part.isdigit() for part in parts[1:]):
        return t["notice_run"].format(added=parts[1], kept=parts[2], dropped=parts[3])
    if parts[0] in ("accept", "reject", "introduce") and len(parts) == 2 and parts[1].isdigit():
        return t[f"notice_{parts[0]}"].format(id=parts[1])
    if parts[0] == "error" and len(parts) == 2 and parts[1] in ERROR_NOTICES:
        return t[ERROR_NOTICES[parts[1]]]
    if code == "saved":
        return t["saved"]
    return None


ERROR_NOTICES = {"reason": "notice_need_reason", "state": "notice_bad_state"}


def _money(text: str) -> float | None:
    """A money amount as people type it: "450 000", "10,000", "2 000 000.50" (spaces,
    non-breaking spaces, commas and apostrophes as thousands separators). Empty gives None;
    anything else raises ValueError."""
    cleaned = re.sub(r"[\s\u00a0\u202f,'_]", "", text)
    if not cleaned:
        return None
    value = float(cleaned)
    if value < 0:
        raise ValueError(text)
    return value


def _back(url: str, **query: str) -> RedirectResponse:
    suffix = ("&" if "?" in url else "?") + urlencode(query) if query else ""
    return RedirectResponse(url + suffix, status_code=303)


def _safe_next(target: str | None, default: str) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else default


def _home(principal: Principal) -> str:
    if principal.is_staff:
        return "/queue"
    return "/requests" if principal.role == "party" else "/programmes"


def _signed_in(request: Request, session: Session) -> Principal:
    principal = _principal(request, session)
    if principal is None:
        raise SignInRequired
    return principal


# ---------------------------------------------------------------------------- sign-in


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    with _session(request) as session:
        principal = _principal(request, session)
        if principal is not None:
            return RedirectResponse(_home(principal), status_code=303)
        return _render(request, "signin.html", None)


@router.post("/signin")
def sign_in(request: Request, api_key: str = Form("")) -> Response:
    with _session(request) as session:
        try:
            principal = authenticate(session, api_key.strip())
        except NotAuthenticated:
            return _render(request, "signin.html", None, status=401, error=True)
    response = RedirectResponse(_home(principal), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        api_key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


@router.post("/signout")
def sign_out(request: Request, csrf: str = Form("")) -> Response:
    _check_csrf(request, csrf)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/language/{code}")
def choose_language(code: str, request: Request, next: str | None = None) -> Response:
    response = RedirectResponse(_safe_next(next, "/"), status_code=303)
    if code in UN_LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, samesite="lax", max_age=365 * 86400)
    return response


# ---------------------------------------------------------------------------- secretariat


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    state: str = "proposed",
    region: str = "",
    sector: str = "",
    language: str = "",
    provider_id: str = "",
    party: str = "",
    min_age_days: str = "",
    offset: int = 0,
    notice: str = "",
) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(_home(principal), status_code=303)
        filters = review.ProposalFilters(
            state=state if state in review.TRANSITIONS else None,
            region=region or None,
            sector=sector or None,
            language=language or None,
            provider_id=provider_id.strip().lower() or None,
            party=party.strip().upper() or None,
            min_age_days=int(min_age_days) if min_age_days.isdigit() else None,
        )
        offset = max(0, offset)
        page = review.list_proposals(session, principal, filters, limit=QUEUE_PAGE, offset=offset)
        cards = [_card(match, principal, request.app.state.matching) for match in page.items]
        return _render(
            request,
            "queue.html",
            principal,
            cards=cards,
            total=page.total,
            filters={
                "state": state,
                "region": region,
                "sector": sector,
                "language": language,
                "provider_id": provider_id,
                "party": party,
                "min_age_days": min_age_days,
            },
            states=tuple(review.TRANSITIONS),
            message=_notice(request, notice),
            here=_here(request),
            offset=offset,
            page_size=QUEUE_PAGE,
            next_offset=page.next_offset,
            query_without_offset=_query(request, drop=("offset", "notice")),
        )


def _card(match: Match, principal: Principal, matching: MatchingService) -> dict[str, Any]:
    record = review.proposal_record(match, principal)
    need = match.need
    evidence = matching.prepare(need_profile(need)).evidence
    components = record["explanation"].get("components", {})
    top = max((abs(value) for value in components.values()), default=1.0) or 1.0
    shown = SimpleNamespace(
        title=need.title,
        description=record["need"]["description"],  # None for a provider when confidential
        language=need.language,
        sectors=need.sectors,
        assistance_types=need.assistance_types,
        inferred_sectors=need.inferred_sectors,
        inferred_assistance_types=need.inferred_assistance_types,
    )
    return {
        **record,
        "need_full": shown,
        "keywords": evidence.matched_keywords,
        "bars": [
            (name, value, abs(value) / top * 100) for name, value in components.items() if abs(value) > 1e-6
        ],
    }


@router.post("/queue/run")
def run_from_queue(request: Request, csrf: str = Form("")) -> Response:
    _check_csrf(request, csrf)
    with _session(request) as session:
        principal = _signed_in(request, session)
        report = review.run_matching(session, request.app.state.matching, principal, review.RunFilters())
        session.commit()
    return _back("/queue", notice=f"run:{report.added}:{report.kept}:{report.dropped}")


@router.post("/proposals/{proposal_id}/{action}")
def decide(
    proposal_id: int,
    action: str,
    request: Request,
    csrf: str = Form(""),
    reason: str = Form(""),
    next: str = Form("/queue"),
) -> Response:
    _check_csrf(request, csrf)
    target = _safe_next(next, "/queue")
    with _session(request) as session:
        principal = _signed_in(request, session)
        try:
            if action == "accept":
                review.accept(session, principal, proposal_id)
            elif action == "reject":
                review.reject(session, principal, proposal_id, reason)
            elif action == "introduce":
                review.introduce(session, principal, proposal_id)
            else:
                return PlainTextResponse("unknown action", status_code=404)
        except (Invalid, Conflict) as problem:
            session.rollback()
            return _back(target, notice="error:reason" if isinstance(problem, Invalid) else "error:state")
        session.commit()
    return _back(target, notice=f"{action}:{proposal_id}")


@router.get("/needs/{need_id}", response_class=HTMLResponse)
def need_page(need_id: str, request: Request, notice: str = "") -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        page = review.list_proposals(session, principal, review.ProposalFilters(), limit=200, offset=0)
        proposals = [
            _card(match, principal, request.app.state.matching)
            for match in page.items
            if match.need_id == need.id
        ]
        history = []
        if principal.is_staff:
            match_ids = [
                str(match.id) for match in session.scalars(select(Match).where(Match.need_id == need.id))
            ]
            history = list(
                session.scalars(
                    select(AuditEvent)
                    .where(
                        ((AuditEvent.entity_type == "need") & (AuditEvent.entity_id == need.id))
                        | ((AuditEvent.entity_type == "match") & (AuditEvent.entity_id.in_(match_ids)))
                    )
                    .order_by(AuditEvent.id)
                )
            )
        query = request.app.state.matching.prepare(need_profile(need))
        return _render(
            request,
            "need.html",
            principal,
            need=need,
            coaching=need_service.coaching_for(need, query=query),
            keywords=query.evidence.matched_keywords,
            proposals=proposals,
            history=history,
            here=_here(request),
            message=_notice(request, notice),
        )


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        settings = request.app.state.store.settings
        report = unmet_needs(
            session, principal, threshold=settings.unmet_score_threshold, after_days=settings.unmet_after_days
        )
        heat = report.by_sector_and_region()
        regions = list(TAXONOMY.regions)
        sectors = [code for code in TAXONOMY.sectors if any(heat[(code, region)] for region in regions)]
        peak = max(heat.values(), default=0) or 1
        return _render(
            request,
            "report.html",
            principal,
            report=report,
            heat=heat,
            regions=regions,
            sectors=sectors,
            peak=peak,
            by_type=report.by_assistance_type().most_common(),
            by_language=report.by_language().most_common(),
        )


@router.get("/report.csv")
def report_csv(request: Request) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        settings = request.app.state.store.settings
        report = unmet_needs(
            session, principal, threshold=settings.unmet_score_threshold, after_days=settings.unmet_after_days
        )
    return Response(
        as_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="unmet-needs.csv"'},
    )


# ---------------------------------------------------------------------------- parties


@router.get("/requests", response_class=HTMLResponse)
def my_requests(request: Request) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        if principal.role != "party":
            return RedirectResponse(_home(principal), status_code=303)
        page = need_service.list_needs(session, principal, need_service.NeedFilters(), limit=200, offset=0)
        visible = review.list_proposals(session, principal, review.ProposalFilters(), limit=200, offset=0)
        accepted: dict[str, list[dict[str, Any]]] = {}
        for match in visible.items:
            accepted.setdefault(match.need_id, []).append(review.proposal_record(match, principal))
        return _render(request, "requests.html", principal, needs=page.items, accepted=accepted)


def _request_form(request: Request, principal: Principal, **context: Any) -> HTMLResponse:
    return _render(request, "request_form.html", principal, languages=UN_LANGUAGES, **context)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request(request: Request) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        if principal.role != "party":
            return RedirectResponse(_home(principal), status_code=303)
        return _request_form(request, principal, values={}, coaching=None)


@router.post("/requests/new", response_class=HTMLResponse)
def submit_request(
    request: Request,
    csrf: str = Form(""),
    action: str = Form("check"),
    title: str = Form(""),
    description: str = Form(""),
    language: str = Form(""),
    sectors: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    budget_usd: str = Form(""),
    confidential: str = Form(""),
) -> Response:
    _check_csrf(request, csrf)
    values: dict[str, Any] = {
        "title": title.strip(),
        "description": description.strip(),
        "language": language if language in UN_LANGUAGES else None,
        "sectors": [code for code in sectors if code in TAXONOMY.sectors],
        "assistance_types": [code for code in assistance_types if code in TAXONOMY.assistance_types],
        "confidential": confidential == "on",
    }
    errors = []
    try:
        values["budget_usd"] = _money(budget_usd)
    except ValueError:
        values["budget_usd"] = budget_usd
        errors.append("budget_usd")
    with _session(request) as session:
        principal = _signed_in(request, session)
        errors += [name for name in ("title", "description") if not values[name]]
        if errors:
            return _request_form(request, principal, values=values, coaching=None, errors=errors, status=422)
        reader = default_reader()
        reading = reader.read(
            values["title"],
            values["description"],
            values["language"],
            values["sectors"],
            values["assistance_types"],
        )
        draft = Need(
            id="draft",
            party_iso3=principal.party or "",
            title=values["title"],
            description=values["description"],
            language=reading.language,
            sectors=values["sectors"],
            assistance_types=values["assistance_types"],
            inferred_sectors=list(reading.inferred_sectors),
            inferred_assistance_types=list(reading.inferred_assistance_types),
            budget_usd=values["budget_usd"],
        )
        coaching = reader.assess(need_profile(draft), reading.evidence)
        if action != "submit":
            return _request_form(request, principal, values=values, coaching=coaching, reading=reading)
        need = need_service.create_need(session, principal, values)
        session.commit()
        request.app.state.matching.need_changed(session, need.id)
        session.commit()
        return _back(f"/needs/{need.id}")


# ---------------------------------------------------------------------------- providers


@router.get("/programmes", response_class=HTMLResponse)
def my_programmes(request: Request, notice: str = "") -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        if principal.role != "provider" and not principal.is_staff:
            return RedirectResponse(_home(principal), status_code=303)
        filters = offering_service.OfferingFilters(provider_id=principal.provider, include_inactive=True)
        page = offering_service.list_offerings(session, principal, filters, limit=200, offset=0)
        visible = review.list_proposals(
            session, principal, review.ProposalFilters(provider_id=principal.provider), limit=200, offset=0
        )
        accepted: dict[str, list[dict[str, Any]]] = {}
        for match in visible.items:
            if match.state in review.VISIBLE_TO_OWNERS:
                accepted.setdefault(match.offering_id, []).append(review.proposal_record(match, principal))
        return _render(
            request,
            "programmes.html",
            principal,
            offerings=page.items,
            accepted=accepted,
            message=_notice(request, notice),
        )


def _offering_form(
    request: Request, principal: Principal, offering: Offering | SimpleNamespace | None, **context: Any
) -> HTMLResponse:
    return _render(
        request,
        "offering_form.html",
        principal,
        offering=offering,
        statuses=PARTY_STATUSES,
        languages=UN_LANGUAGES,
        **context,
    )


def _may_edit(principal: Principal, offering: Offering | None) -> None:
    if principal.is_staff:
        return
    if principal.role != "provider" or (offering is not None and offering.provider_id != principal.provider):
        raise Forbidden("only the programme's provider or the secretariat can edit it")


@router.get("/programmes/new", response_class=HTMLResponse)
def new_programme(request: Request) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
        _may_edit(principal, None)
        return _offering_form(request, principal, None)


@router.get("/programmes/{offering_id}", response_class=HTMLResponse)
def edit_programme(offering_id: str, request: Request) -> Response:
    with _session(request) as session:
        principal = _signed_in(request, session)
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
    url: str = Form(""),
    active: str = Form(""),
    provider_id: str = Form(""),
) -> Response:
    _check_csrf(request, csrf)

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
    }
    errors: list[str] = []
    for name, text in (("funding_min_usd", funding_min_usd), ("funding_max_usd", funding_max_usd)):
        try:
            data[name] = _money(text)
        except ValueError:
            data[name] = None
            errors.append(name)
    errors += [name for name in ("provider", "title", "description") if not data[name]]
    with _session(request) as session:
        principal = _signed_in(request, session)
        current = session.get(Offering, offering_id) if offering_id else None
        _may_edit(principal, current)
        shown = SimpleNamespace(
            id=offering_id or "",
            provider_id=provider_id,
            verified=True,
            capacity=None,
            provider_kind=None,
            opens=None,
            closes=None,
            **data,
        )
        if errors:
            return _offering_form(
                request, principal, shown, errors=errors, status=422, editing=bool(offering_id)
            )
        try:
            if offering_id:
                offering = offering_service.update_offering(session, principal, offering_id, data)
            else:
                if principal.is_staff:
                    data["provider_id"] = provider_id.strip().lower() or None
                offering = offering_service.create_offering(session, principal, data)
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
            )
        session.commit()
        request.app.state.matching.offering_changed(session, offering.id)
        session.commit()
    return _back("/programmes", notice="saved")


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    with _session(request) as session:
        principal = _principal(request, session)
    return _render(request, "error.html", principal, status=status, message=message, code=status)


def new_web_secret() -> bytes:
    return secrets.token_bytes(32)


__all__ = ["SignInRequired", "error_page", "new_web_secret", "router"]
