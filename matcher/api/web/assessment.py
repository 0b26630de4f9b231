"""Workbench pages of the needs assessment.

* secretariat: **Survey rounds** (``/assessment/survey``: open a round with a deadline, see
  the responses, close it), **Report answers** (``/assessment/answers``: the imported
  national-report and survey answers as read, each can become a draft need), and the
  assessment download on the report page (``/report/assessment``);
* party: **Needs survey** (``/survey``): the open rounds' short form in the interface
  language, and the Party's draft needs to confirm, edit (the request form, with coaching)
  or discard.

The pages' words are the workbench's interface text (``matcher/api/web/i18n``, six
languages); labels of codes come from the taxonomy, also in six languages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher.api.deps import AnswerId, NeedId, RoundId
from matcher.api.routes.assessment import attachment
from matcher.api.web.i18n import INTERFACE_LANGUAGES, translator
from matcher.api.web.session import (
    TAXONOMY,
    back,
    check_csrf,
    home_for,
    open_session,
    reader_language,
    render,
    signed_in,
)
from matcher.documents.assessment import FORMATS, produce
from matcher.documents.text import DOCUMENT_LANGUAGES
from matcher.engine.challenges import MISSING_ITEMS, default_challenge_reader, missing_label
from matcher.services import answers as answer_service
from matcher.services import needs as need_service
from matcher.services import surveys as survey_service
from matcher.services.access import Conflict, Invalid, Principal
from matcher.taxonomy import CHALLENGE_KINDS

router = APIRouter(include_in_schema=False)
ANSWERS_PAGE = 50

# Notice codes of these pages and their keys in the interface text.
NOTICES: dict[str, str] = {
    "confirmed": "notice_confirmed",
    "discarded": "notice_discarded",
    "sent": "notice_sent",
    "round": "notice_round",
    "round_closed": "notice_round_closed",
    "draft": "notice_draft",
    "invalid": "notice_invalid",
    "closed_round": "notice_closed_round",
}


def interface_language(request: Request) -> str:
    """The reader's interface language (English when the reader's is not one of the six)."""
    language = reader_language(request)
    return language if language in INTERFACE_LANGUAGES else "en"


def _page(
    request: Request, name: str, principal: Principal, notice: str = "", **context: Any
) -> HTMLResponse:
    language = reader_language(request)
    kinds = default_challenge_reader().kinds
    return render(
        request,
        name,
        principal,
        message=translator(interface_language(request))[NOTICES[notice]] if notice in NOTICES else None,
        missing_items=[(item, missing_label(item, language)) for item in MISSING_ITEMS],
        challenge_label=lambda code: kinds[code].label_in(language) if code in kinds else "–",
        **context,
    )


# ---------------------------------------------------------------------------- download


@router.get("/report/assessment")
def download_assessment(
    request: Request,
    start: str = "",
    end: str = "",
    lang: str = "en",
    file_format: str = "pdf",
) -> Response:
    """The synthesis document (staff; the service refuses others)."""
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            first = dt.date.fromisoformat(start) if start else None
            last = dt.date.fromisoformat(end) if end else None
        except ValueError:
            raise Invalid("dates are written YYYY-MM-DD") from None
        settings = request.app.state.store.settings
        document = produce(
            session,
            principal,
            start=first,
            end=last,
            language=lang if lang in DOCUMENT_LANGUAGES else "en",
            file_format=file_format if file_format in FORMATS else "pdf",
            unmet_threshold=settings.unmet_score_threshold,
            unmet_after_days=settings.unmet_after_days,
        )
    return attachment(document)


# ---------------------------------------------------------------------------- staff


@router.get("/assessment/survey", response_class=HTMLResponse)
def survey_rounds(request: Request, notice: str = "", show: int = 0) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        rounds = survey_service.list_rounds(session)
        counts = survey_service.response_counts(session)
        shown = survey_service.responses_of(session, principal, show) if show else []
        return _page(
            request,
            "survey_rounds.html",
            principal,
            notice,
            rounds=[(survey, survey_service.is_open(survey), counts.get(survey.id, 0)) for survey in rounds],
            shown=shown,
            show=show,
            default_deadline=(dt.date.today() + dt.timedelta(days=60)).isoformat(),
        )


@router.post("/assessment/survey")
def open_survey_round(
    request: Request, csrf: str = Form(""), title: str = Form(""), deadline: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            survey_service.open_round(
                session, principal, title=title, deadline=dt.date.fromisoformat(deadline)
            )
        except (Invalid, ValueError):
            session.rollback()
            return back("/assessment/survey", notice="invalid")
        session.commit()
    return back("/assessment/survey", notice="round")


@router.post("/assessment/survey/{round_id}/close")
def close_survey_round(round_id: RoundId, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        survey_service.close_round(session, principal, round_id)
        session.commit()
    return back("/assessment/survey", notice="round_closed")


@router.get("/assessment/answers", response_class=HTMLResponse)
def report_answers(
    request: Request,
    party: str = "",
    cycle: str = "",
    challenge_kind: str = "",
    offset: int = 0,
    notice: str = "",
) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        filters = answer_service.AnswerFilters(
            party=party.strip().upper() or None,
            cycle=int(cycle) if cycle.isdigit() else None,
            challenge_kind=challenge_kind if challenge_kind in CHALLENGE_KINDS else None,
        )
        offset = max(0, offset)
        page = answer_service.list_answers(session, principal, filters, limit=ANSWERS_PAGE, offset=offset)
        return _page(
            request,
            "report_answers.html",
            principal,
            notice,
            answers=page.items,
            total=page.total,
            offset=offset,
            next_offset=page.next_offset,
            page_size=ANSWERS_PAGE,
            filters={"party": party, "cycle": cycle, "challenge_kind": challenge_kind},
            kinds=CHALLENGE_KINDS,
        )


@router.post("/assessment/answers/{answer_id}/draft")
def make_draft(answer_id: AnswerId, request: Request, csrf: str = Form(""), next: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        answer_service.draft_from_answer(session, principal, answer_id, matching=request.app.state.matching)
    target = next if next.startswith("/assessment/answers") else "/assessment/answers"
    return back(target, notice="draft")


# ---------------------------------------------------------------------------- party


@router.get("/survey", response_class=HTMLResponse)
def party_survey(request: Request, notice: str = "") -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if principal.role != "party":
            return RedirectResponse(
                "/assessment/survey" if principal.is_staff else home_for(principal), status_code=303
            )
        assert principal.party is not None
        rounds = [
            (survey, survey_service.response_of(session, survey.id, principal.party))
            for survey in survey_service.open_rounds(session)
        ]
        return _page(
            request,
            "survey.html",
            principal,
            notice,
            rounds=rounds,
            drafts=answer_service.drafts_of(session, principal),
            sectors=list(TAXONOMY.sectors),
            assistance_types=list(TAXONOMY.assistance_types),
        )


@router.post("/survey/{round_id}")
def send_survey(
    round_id: RoundId,
    request: Request,
    csrf: str = Form(""),
    sectors: list[str] = Form([]),
    missing: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    free_text: str = Form(""),
    as_need: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    language = reader_language(request)
    with open_session(request) as session:
        principal = signed_in(request, session)
        data = {
            "sectors": sectors,
            "missing": missing,
            "assistance_types": assistance_types,
            "free_text": free_text,
            "language": language if not free_text.strip() else None,
        }
        try:
            survey_service.submit_response(
                session, principal, round_id, data, matching=request.app.state.matching, as_need=as_need
            )
        except Invalid:
            session.rollback()
            return back("/survey", notice="invalid")
        except Conflict:
            session.rollback()
            return back("/survey", notice="closed_round")
    return back("/survey", notice="sent")


@router.post("/drafts/{need_id}/confirm")
def confirm_draft(need_id: NeedId, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        need_service.confirm_draft(session, principal, need_id, matching=request.app.state.matching)
    return back(f"/needs/{need_id}", notice="saved")


@router.post("/drafts/{need_id}/discard")
def discard_draft(
    need_id: NeedId, request: Request, csrf: str = Form(""), reason: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        need_service.discard_draft(
            session, principal, need_id, matching=request.app.state.matching, reason=reason
        )
    return back("/survey", notice="discarded")
