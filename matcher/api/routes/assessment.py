"""The needs assessment over HTTP: national-report answers and their draft needs, needs-survey
rounds and responses, and the synthesis document.

The bodies are declared here rather than in ``schemas.py`` because only these routes use them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from matcher.api.deps import (
    DEFAULT_PAGE,
    AnswerId,
    Limit,
    NeedId,
    Offset,
    PrincipalDep,
    RoundId,
    ServiceDep,
    SessionDep,
    errors,
)
from matcher.api.schemas import AssistanceType, ErrorOut, LanguageCode, NeedOut, SectorCode
from matcher.documents.assessment import MEDIA_TYPES, Produced, produce
from matcher.services import answers as answer_service
from matcher.services import needs as need_service
from matcher.services import surveys as survey_service
from matcher.taxonomy import CHALLENGE_KINDS

router = APIRouter(tags=["needs assessment"])

ChallengeKind = Literal["capacity", "financing", "technology-access", "information", "institutional"]
MissingItem = Literal["equipment", "skills", "financing", "infrastructure", "data"]
assert set(ChallengeKind.__args__) == set(CHALLENGE_KINDS)  # type: ignore[attr-defined]


class AnswerOut(BaseModel):
    id: int
    party: str
    cycle: int
    question_id: str
    question: str
    answer: str
    language: str | None
    sectors: list[str]
    assistance_types: list[str]
    challenge_kind: str | None
    vague: bool
    source: Literal["report", "survey"]
    need_id: str | None
    demo: bool
    created_at: dt.datetime


class AnswerPage(BaseModel):
    items: list[AnswerOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    deadline: dt.date
    opens: dt.date | None = Field(None, description="Default: today.")


class RoundOut(BaseModel):
    id: int
    title: str
    opens: dt.date
    deadline: dt.date
    created_by: str
    closed_at: dt.datetime | None
    open: bool
    responses: int | None


class ResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sectors: list[SectorCode] = Field(default_factory=list, description="Sources and technologies concerned.")
    missing: list[MissingItem] = Field(default_factory=list, description="What is missing.")
    assistance_types: list[AssistanceType] = Field(default_factory=list, description="Preferred assistance.")
    free_text: str = Field("", max_length=10_000)
    language: LanguageCode | None = None
    party: str | None = Field(None, description="Staff only: the Party answered for.")
    as_need: Literal["", "draft", "submitted"] = Field(
        "", description="Make the response a need at once (submitted) or a draft the Party confirms."
    )


class ResponseOut(BaseModel):
    id: int
    round: int
    party: str
    sectors: list[str]
    missing: list[str]
    assistance_types: list[str]
    free_text: str
    language: str | None
    submitted_at: dt.datetime
    need_id: str | None


class DiscardBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=2000)


@router.get(
    "/v1/answers",
    response_model=AnswerPage,
    responses=errors(401, 403),
    summary="List report and survey answers",
)
def list_answers(
    session: SessionDep,
    principal: PrincipalDep,
    party: str | None = None,
    cycle: int | None = None,
    source: Literal["report", "survey"] | None = None,
    challenge_kind: ChallengeKind | None = None,
    vague: bool | None = None,
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> Any:
    """Statements of need from national reports and surveys: the secretariat sees all, a Party its own."""
    filters = answer_service.AnswerFilters(party, cycle, source, challenge_kind, vague)
    page = answer_service.list_answers(session, principal, filters, limit=limit, offset=offset)
    return page.as_dict([answer_service.answer_record(answer) for answer in page.items])


@router.post(
    "/v1/answers/{answer_id}/draft",
    status_code=status.HTTP_201_CREATED,
    response_model=NeedOut,
    responses=errors(401, 403, 404),
    summary="Make a draft need of an answer",
)
def draft_from_answer(
    answer_id: AnswerId, session: SessionDep, principal: PrincipalDep, matching: ServiceDep
) -> Any:
    """The answer becomes a need in `draft` for its Party to confirm, edit or discard (an
    answer that already has one answers that need)."""
    need = answer_service.draft_from_answer(session, principal, answer_id, matching=matching)
    return need_service.need_record(need)


@router.post(
    "/v1/needs/{need_id}/confirm",
    response_model=NeedOut,
    responses=errors(401, 403, 404, 409),
    summary="Confirm a draft need",
)
def confirm_draft(need_id: NeedId, session: SessionDep, principal: PrincipalDep, matching: ServiceDep) -> Any:
    """A draft becomes `submitted` and is matched like any new need."""
    return need_service.need_record(
        need_service.confirm_draft(session, principal, need_id, matching=matching)
    )


@router.post(
    "/v1/needs/{need_id}/discard",
    response_model=NeedOut,
    responses=errors(401, 403, 404, 409),
    summary="Discard a draft need",
)
def discard_draft(
    need_id: NeedId,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    body: DiscardBody | None = None,
) -> Any:
    """The draft is withdrawn with the reason (nothing is deleted)."""
    reason = body.reason if body else None
    need = need_service.discard_draft(session, principal, need_id, matching=matching, reason=reason)
    return need_service.need_record(need)


@router.get(
    "/v1/survey/rounds", response_model=list[RoundOut], responses=errors(401), summary="Survey rounds"
)
def list_rounds(session: SessionDep, principal: PrincipalDep) -> Any:
    """Every round, newest first (a Party or provider sees the open ones)."""
    counts = survey_service.response_counts(session) if principal.is_staff else {}
    rounds = survey_service.list_rounds(session)
    if not principal.is_staff:
        rounds = [survey for survey in rounds if survey_service.is_open(survey)]
    return [survey_service.round_record(survey, counts.get(survey.id)) for survey in rounds]


@router.post(
    "/v1/survey/rounds",
    status_code=status.HTTP_201_CREATED,
    response_model=RoundOut,
    responses=errors(401, 403),
    summary="Open a survey round",
)
def open_round(body: RoundCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    survey = survey_service.open_round(
        session, principal, title=body.title, deadline=body.deadline, opens=body.opens
    )
    session.commit()
    return survey_service.round_record(survey, 0)


@router.post(
    "/v1/survey/rounds/{round_id}/close",
    response_model=RoundOut,
    responses=errors(401, 403, 404),
    summary="Close a survey round",
)
def close_round(round_id: RoundId, session: SessionDep, principal: PrincipalDep) -> Any:
    survey = survey_service.close_round(session, principal, round_id)
    session.commit()
    return survey_service.round_record(survey)


@router.post(
    "/v1/survey/rounds/{round_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseOut,
    responses=errors(401, 403, 404, 409),
    summary="Answer a survey round",
)
def respond(
    round_id: RoundId,
    body: ResponseCreate,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
) -> Any:
    """A Party answers (or replaces its answer) until the deadline; 409 once the round is closed."""
    data = body.model_dump()
    response = survey_service.submit_response(
        session, principal, round_id, data, matching=matching, as_need=body.as_need, party=body.party
    )
    return survey_service.response_record(response)


@router.get(
    "/v1/survey/rounds/{round_id}/responses",
    response_model=list[ResponseOut],
    responses=errors(401, 403, 404),
    summary="A round's responses",
)
def responses(round_id: RoundId, session: SessionDep, principal: PrincipalDep) -> Any:
    survey_service.get_round(session, round_id)
    return [
        survey_service.response_record(item)
        for item in survey_service.responses_of(session, principal, round_id)
    ]


@router.get(
    "/v1/assessment",
    responses={
        200: {"content": {media: {} for media in MEDIA_TYPES.values()}, "description": "The document."},
        **errors(401, 403),
        503: {"model": ErrorOut, "description": "The PDF renderer (Chromium) is missing on the server."},
    },
    summary="The needs-assessment document",
)
def assessment_document(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    start: dt.date | None = Query(None, alias="from", description="First day; default: every record."),
    end: dt.date | None = Query(None, alias="to", description="Last day; default: today."),
    lang: Literal["ar", "zh", "en", "fr", "ru", "es"] = "en",
    file_format: Literal["pdf", "docx", "html"] = Query("pdf", alias="format"),
) -> Response:
    """The synthesis document for the Conference of the Parties (staff only); 503 when the
    PDF renderer (Chromium) is missing on the server."""
    settings = request.app.state.store.settings
    document = produce(
        session,
        principal,
        start=start,
        end=end,
        language=lang,
        file_format=file_format,
        unmet_threshold=settings.unmet_score_threshold,
        unmet_after_days=settings.unmet_after_days,
    )
    return attachment(document)


def attachment(document: Produced) -> Response:
    """A produced document as a download."""
    return Response(
        document.content,
        media_type=document.media_type,
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )
