"""The recipient's page (``/account``), for any signed-in key: where its notices go, the
latest of them, and whether they arrive one by one or as a daily digest.

A key holder changes its own key's address; the Party's or provider's address is shown
read only, except to the secretariat, who may open any Party's (``?party=KEN``) or
provider's (``?provider=unep``) page and change it. The rules live in the services
(``access.set_key_email``, ``notifications.recipient_page``, ``set_organisation_email``,
``set_digest``); every form carries the session's token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from matcher.api.web.session import back, check_csrf, notice_text, open_session, render, signed_in
from matcher.services import access, notifications
from matcher.services.access import Invalid, Principal

router = APIRouter(include_in_schema=False)


def _page_url(party: str, provider: str) -> str:
    query = urlencode({name: value for name, value in (("party", party), ("provider", provider)) if value})
    return "/account" + (f"?{query}" if query else "")


def _render(
    request: Request,
    session: Session,
    principal: Principal,
    party: str,
    provider: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    page = notifications.recipient_page(session, principal, party=party or None, provider=provider or None)
    return render(
        request,
        "account.html",
        principal,
        status=status,
        page=page,
        party=party,
        provider=provider,
        **context,
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, party: str = "", provider: str = "", notice: str = "") -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        return _render(request, session, principal, party, provider, message=notice_text(request, notice))


@router.post("/account/email")
def save_key_email(request: Request, csrf: str = Form(""), email: str = Form("")) -> Response:
    """The signed-in key's own address (empty clears it)."""
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            access.set_key_email(session, principal, principal.key_id, email)
        except Invalid as problem:
            session.rollback()
            return _render(
                request,
                session,
                principal,
                "",
                "",
                status=422,
                problem=problem.message,
                errors=["email"],
                typed=email,
            )
        session.commit()
    return back("/account", notice="saved")


@router.post("/account/organisation")
def save_organisation_email(
    request: Request,
    csrf: str = Form(""),
    party: str = Form(""),
    provider: str = Form(""),
    email: str = Form(""),
) -> Response:
    """A Party's or provider's address (secretariat and admin only)."""
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            notifications.set_organisation_email(
                session, principal, party=party or None, provider=provider or None, email=email
            )
        except Invalid as problem:
            session.rollback()
            return _render(
                request,
                session,
                principal,
                party,
                provider,
                status=422,
                problem=problem.message,
                errors=["organisation_email"],
                typed_organisation=email,
            )
        session.commit()
    return back(_page_url(party, provider), notice="saved")


@router.post("/account/digest")
def save_digest(
    request: Request,
    csrf: str = Form(""),
    address: str = Form(""),
    digest: str = Form(""),
    party: str = Form(""),
    provider: str = Form(""),
) -> Response:
    """Whether ``address`` gets a daily digest: only an address the key may manage."""
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        notifications.set_digest(session, principal, address, digest == "on")
        session.commit()
    return back(_page_url(party, provider), notice="saved")
