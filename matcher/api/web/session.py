"""The workbench's plumbing: signing in and out, the session cookie, form tokens, the
reader's language and page rendering, shared by the page modules of each audience.

Signing in opens a session kept in the database (``matcher.services.sessions``): the
browser holds only an opaque random token, in an HttpOnly, SameSite=Strict cookie (Secure
behind https), never the API key. Every page resolves the session to the key's principal
and calls the same service functions as the API, so a page can never show or change more
than the key's role allows through the API. Every form that changes something carries the
session's own token, checked before the change; the sign-in form carries a token bound to
a cookie of its own, so another site cannot sign a browser in.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from matcher.api.web.amounts import format_amount
from matcher.api.web.i18n import (
    INTERFACE_LANGUAGES,
    RTL,
    name_of,
    next_step_words,
    part_name,
    rule_text,
    state_name,
    translator,
)
from matcher.api.web.labels import format_date, language_name, party_name
from matcher.services import sessions
from matcher.services.access import Invalid, NotAuthenticated, Principal, ServiceError
from matcher.taxonomy import OUTCOMES, UN_LANGUAGES, load_taxonomy

SESSION_COOKIE = "mm_session"
SIGN_IN_COOKIE = "mm_signin"


LANGUAGE_COOKIE = "mm_lang"


HERE = Path(__file__).parent


templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
TAXONOMY = load_taxonomy()


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


def open_session(request: Request) -> Session:
    session: Session = request.app.state.store.sessions()
    return session


_UNRESOLVED = object()


def _web_session(request: Request, session: Session) -> sessions.WebSignIn | None:
    """The request's signed-in session (looked up once per request)."""
    if getattr(request.state, "web_session", _UNRESOLVED) is _UNRESOLVED:
        request.state.web_session = sessions.resolve_session(session, request.cookies.get(SESSION_COOKIE))
    found: sessions.WebSignIn | None = request.state.web_session
    return found


def current_principal(request: Request, session: Session) -> Principal | None:
    found = _web_session(request, session)
    return found.principal if found else None


def csrf_token(request: Request) -> str:
    """The signed-in session's form token ("" before the session was looked up or without one)."""
    found = getattr(request.state, "web_session", None)
    return found.csrf_token if isinstance(found, sessions.WebSignIn) else ""


def check_csrf(request: Request, token: str) -> None:
    """Refuse a change whose form did not come from this session's pages."""
    with open_session(request) as session:
        found = _web_session(request, session)
    if found is None or not hmac.compare_digest(found.csrf_token, token or ""):
        raise ServiceError("the form expired or did not come from this site; reload the page and try again")


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure when the service is served behind https (``MATCHER_PUBLIC_URL``)."""
    return bool(request.app.state.store.settings.behind_https) or request.url.scheme == "https"


def reader_language(request: Request) -> str:
    """The reader's language, one of the six UN languages: the one chosen in the header
    (a cookie), else the browser's ``Accept-Language`` preference, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in UN_LANGUAGES:
        return chosen
    return preferred_language(request.headers.get("accept-language", ""))


def interface_language(request: Request) -> str:
    """The language of the interface text (all six UN languages have it)."""
    language = reader_language(request)
    return language if language in INTERFACE_LANGUAGES else "en"


def preferred_language(header: str) -> str:
    """The first UN language of an ``Accept-Language`` header by its q-values
    (``"de-CH, fr;q=0.8, ar;q=0.9"`` → ``"ar"``), English if none."""
    ranked = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in UN_LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"


def code_label(family: str, code: str, language: str) -> str:
    entry = getattr(TAXONOMY, family).get(code)
    return entry.label_in(language) if entry is not None else code


def render(
    request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    language = reader_language(request)
    interface = language if language in INTERFACE_LANGUAGES else "en"
    names: dict[str, dict[str, str | None]] = getattr(request.app.state, "party_names", {})
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": translator(interface),
            "ui": interface,
            "ui_dir": "rtl" if interface in RTL else "ltr",
            "label_lang": language,
            "label_dir": "rtl" if language in RTL else "ltr",
            "ui_languages": [(code, NATIVE_NAMES[code]) for code in UN_LANGUAGES],
            "principal": principal,
            "csrf": csrf_token(request),
            "label": lambda family, code: code_label(family, code, language),
            "taxonomy": TAXONOMY,
            "rtl": RTL,
            "path": request.url.path,
            "state_name": lambda state: state_name(interface, state),
            "part_name": lambda part: part_name(interface, part),
            "today": dt.date.today().isoformat(),
            "plain_json": lambda value: json.dumps(value or {}, ensure_ascii=False, default=str),
            "kind_name": lambda code: name_of(interface, "kind", code),
            "action_name": lambda code: name_of(interface, "action", code),
            "role_name": lambda code: name_of(interface, "role", code),
            "outcome_name": lambda code: name_of(interface, "outcome", code),
            "rule_name": lambda rule, value: rule_text(
                interface, rule, code_label("regions", value, language) if rule == "region" else value
            ),
            "next_step_text": lambda code, provider: next_step_words(interface, code, provider),
            "party_name": lambda iso3: party_name(names, iso3, interface),
            "language_name": lambda code: language_name(code, interface),
            "constraint_name": lambda code: name_of(interface, "constraint", code),
            "close_reason_name": lambda code: name_of(interface, "close_reason", code),
            "status_name": lambda code: name_of(interface, "party_status", code),
            "money": lambda value: format_amount(value, interface),
            "date": format_date,
            "outcomes": OUTCOMES,
            **context,
        },
        status_code=status,
    )


def query_string(request: Request, drop: tuple[str, ...] = ("notice",)) -> str:
    return urlencode([(key, value) for key, value in request.query_params.multi_items() if key not in drop])


def here_url(request: Request) -> str:
    """This page's address without its notice, for forms to come back to."""
    query = query_string(request)
    return request.url.path + (f"?{query}" if query else "")


def notice_text(request: Request, code: str) -> str | None:
    """A notice rebuilt from a short code, so a crafted link cannot put words on the page."""
    t = translator(reader_language(request) if reader_language(request) in INTERFACE_LANGUAGES else "en")
    parts = code.split(":")
    if parts[0] == "run" and len(parts) == 4 and all(part.isdigit() for part in parts[1:]):
        return t["notice_run"].format(added=parts[1], kept=parts[2], dropped=parts[3])
    if (
        parts[0] in ("accept", "reject", "introduce", "outcome", "undo")
        and len(parts) == 2
        and parts[1].isdigit()
    ):
        return t[f"notice_{parts[0]}"].format(id=parts[1])
    if parts[0] in ("closed", "bulk") and len(parts) == 2 and parts[1].isdigit():
        return t[f"notice_{parts[0]}"].format(count=parts[1])
    if parts[0] == "error" and len(parts) == 2 and parts[1] in ERROR_NOTICES:
        return t[ERROR_NOTICES[parts[1]]]
    if code in PLAIN_NOTICES:
        return t[PLAIN_NOTICES[code]]
    return None


ERROR_NOTICES = {
    "reason": "notice_need_reason",
    "state": "notice_bad_state",
    "outcome": "notice_bad_outcome",
    "amount": "notice_bad_amount",
    "pick": "notice_pick",
    "undo": "notice_undo_late",
    "note": "notice_note_empty",
}
PLAIN_NOTICES = {
    "saved": "saved",
    "withdrawn": "notice_withdrawn",
    "reconfirmed": "notice_reconfirmed",
    "verified": "notice_verified",
    "rejected_programme": "notice_rejected_programme",
    "interest": "notice_interest",
    "assigned": "notice_assigned",
    "note": "notice_note",
}


def parse_money(text: str) -> float | None:
    """A money amount as people type it: "450 000", "10,000", "2 000 000.50" (spaces,
    non-breaking spaces, commas and apostrophes as thousands separators). Empty gives None;
    anything else (negative, "inf", "nan", "1e999") raises ValueError."""
    cleaned = re.sub(r"[\s\u00a0\u202f,'_]", "", text)
    if not cleaned:
        return None
    value = float(cleaned)
    if value < 0 or not math.isfinite(value):
        raise ValueError(text)
    return value


def check_form(model: type[BaseModel], data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate a form's values with the API's own body model (the same rules: control
    characters, finite money, web addresses, lengths). Returns the validated values, or
    the names of the fields in error."""
    try:
        checked = model.model_validate(data)
    except ValidationError as error:
        return data, sorted({str(problem["loc"][0]) for problem in error.errors() if problem["loc"]})
    return checked.model_dump(exclude_unset=True), []


def query_choice(name: str, value: str, allowed: Any) -> str | None:
    """An optional filter of a page: empty is no filter; anything else must be allowed."""
    if not value:
        return None
    if value not in allowed:
        raise Invalid(
            f"query.{name}: {value!r} is not one of the choices",
            [{"loc": f"query.{name}", "message": "unknown"}],
        )
    return value


def query_matching(name: str, value: str, pattern: str) -> str | None:
    """An optional free-text filter of a page: empty is no filter; else it must match ``pattern``."""
    if not value:
        return None
    if not re.fullmatch(pattern, value):
        raise Invalid(
            f"query.{name}: {value!r} is not valid", [{"loc": f"query.{name}", "message": "not valid"}]
        )
    return value


def back(url: str, **query: str) -> RedirectResponse:
    suffix = ("&" if "?" in url else "?") + urlencode(query) if query else ""
    return RedirectResponse(url + suffix, status_code=303)


def safe_next(target: str | None, default: str) -> str:
    """A path on this site to go back to, or ``default`` (never another site: browsers read
    "//host" and "/\\host" as another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target if target.isprintable() else default


def home_for(principal: Principal) -> str:
    if principal.is_staff:
        return "/queue"
    return "/requests" if principal.role == "party" else "/programmes"


def signed_in(request: Request, session: Session) -> Principal:
    principal = current_principal(request, session)
    if principal is None:
        raise SignInRequired
    return principal


def error_page(
    request: Request, status: int, message: str, *, look_up_principal: bool = True
) -> HTMLResponse:
    """The HTML error page. ``look_up_principal=False`` for an unexpected failure: the
    database may be what failed."""
    principal = None
    if look_up_principal:
        with open_session(request) as session:
            principal = current_principal(request, session)
    return render(request, "error.html", principal, status=status, message=message, code=status)


# ---------------------------------------------------------------------------- sign-in


def _sign_in_form(request: Request, session: Session, status: int = 200, **context: Any) -> Response:
    """The sign-in form, with a token bound to this browser's sign-in cookie (kept if it
    already has one, so several tabs work)."""
    nonce = request.cookies.get(SIGN_IN_COOKIE) or ""
    if not sessions.looks_like_token(nonce):
        nonce = sessions.new_sign_in_nonce()
    response = render(
        request, "signin.html", None, status=status, csrf=sessions.sign_in_token(session, nonce), **context
    )
    response.set_cookie(
        SIGN_IN_COOKIE, nonce, httponly=True, samesite="strict", secure=secure_cookies(request), max_age=3600
    )
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    with open_session(request) as session:
        principal = current_principal(request, session)
        if principal is not None:
            return RedirectResponse(home_for(principal), status_code=303)
        return _sign_in_form(request, session)


@router.get("/signin", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    """The sign-in form, also when signed in (to sign in with another key)."""
    with open_session(request) as session:
        return _sign_in_form(request, session)


@router.post("/signin")
def sign_in(request: Request, api_key: str = Form(""), csrf: str = Form("")) -> Response:
    with open_session(request) as session:
        if not sessions.sign_in_token_matches(session, request.cookies.get(SIGN_IN_COOKIE), csrf):
            return _sign_in_form(request, session, status=400, expired=True)
        try:
            new = sessions.start_session(
                session, api_key.strip(), replacing=request.cookies.get(SESSION_COOKIE)
            )
        except NotAuthenticated:
            return _sign_in_form(request, session, status=401, error=True)
    response = RedirectResponse(home_for(new.principal), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(SIGN_IN_COOKIE, httponly=True, samesite="strict", secure=secure_cookies(request))
    return response


@router.post("/signout")
def sign_out(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        sessions.end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=secure_cookies(request))
    return response


@router.get("/language/{code}")
def choose_language(code: str, request: Request, next: str | None = None) -> Response:
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if code in UN_LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, code, samesite="lax", secure=secure_cookies(request), max_age=365 * 86400
        )
    return response
