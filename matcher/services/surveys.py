"""Needs surveys: the secretariat opens a round with a deadline; each Party's focal point
answers a short structured form (which sources and technologies, what is missing, the help
it prefers, a free text) in its language until the deadline.

A response is also written as a statement of need (a ``ReportAnswer`` with source
``survey``, cycle = the opening day's year, question ``survey-<round id>``), read like a
national-report answer, so the assessment counts both the same way. On request the response
becomes a need at once (``submitted``) or a draft need the Party confirms later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.engine.challenges import MISSING_ITEMS, missing_label, read_statement
from matcher.engine.understanding import default_reader
from matcher.services.access import Conflict, Forbidden, Invalid, NotFound, Principal, audit, require_staff
from matcher.services.matching import MatchingService
from matcher.services.needs import create_need
from matcher.store.models import Need, Party, ReportAnswer, SurveyResponse, SurveyRound, utcnow
from matcher.taxonomy import UN_LANGUAGES, load_taxonomy

AS_NEED = ("", "draft", "submitted")


def open_round(
    session: Session,
    principal: Principal,
    *,
    title: str,
    deadline: dt.date,
    opens: dt.date | None = None,
    demo: bool = False,
) -> SurveyRound:
    """Open a survey round (staff) in the caller's transaction."""
    require_staff(principal, "open a needs survey")
    opens = opens or dt.date.today()
    problems = []
    if not title.strip():
        problems.append({"loc": "body.title", "message": "required"})
    if deadline < opens:
        problems.append({"loc": "body.deadline", "message": "the deadline is before the opening day"})
    if problems:
        raise Invalid("the survey round is incomplete", problems)
    survey = SurveyRound(
        title=title.strip(), opens=opens, deadline=deadline, created_by=principal.actor, demo=demo
    )
    session.add(survey)
    session.flush()
    audit(
        session,
        principal,
        "survey.open",
        "survey_round",
        str(survey.id),
        after={"title": survey.title, "opens": opens.isoformat(), "deadline": deadline.isoformat()},
    )
    return survey


def close_round(session: Session, principal: Principal, round_id: int) -> SurveyRound:
    require_staff(principal, "close a needs survey")
    survey = get_round(session, round_id)
    if survey.closed_at is None:
        survey.closed_at = utcnow()
        audit(session, principal, "survey.close", "survey_round", str(survey.id))
    return survey


def get_round(session: Session, round_id: int) -> SurveyRound:
    survey = session.get(SurveyRound, round_id)
    if survey is None:
        raise NotFound(f"no survey round {round_id}")
    return survey


def is_open(survey: SurveyRound, today: dt.date | None = None) -> bool:
    today = today or dt.date.today()
    return survey.closed_at is None and survey.opens <= today <= survey.deadline


def list_rounds(session: Session) -> list[SurveyRound]:
    """Every round, newest first (Parties are shown the open ones)."""
    return list(session.scalars(select(SurveyRound).order_by(SurveyRound.id.desc())))


def open_rounds(session: Session, today: dt.date | None = None) -> list[SurveyRound]:
    return [survey for survey in list_rounds(session) if is_open(survey, today)]


def responses_of(session: Session, principal: Principal, round_id: int) -> list[SurveyResponse]:
    """A round's responses (staff), by Party."""
    require_staff(principal, "read survey responses")
    return list(
        session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.round_id == round_id)
            .order_by(SurveyResponse.party_iso3)
        )
    )


def response_of(session: Session, round_id: int, party: str) -> SurveyResponse | None:
    return session.scalar(
        select(SurveyResponse).where(SurveyResponse.round_id == round_id, SurveyResponse.party_iso3 == party)
    )


def response_counts(session: Session) -> dict[int, int]:
    counts: dict[int, int] = {}
    for round_id in session.scalars(select(SurveyResponse.round_id)):
        counts[round_id] = counts.get(round_id, 0) + 1
    return counts


def _checked(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    taxonomy = load_taxonomy()
    values: dict[str, Any] = {
        "sectors": list(dict.fromkeys(data.get("sectors") or [])),
        "missing": list(dict.fromkeys(data.get("missing") or [])),
        "assistance_types": list(dict.fromkeys(data.get("assistance_types") or [])),
        "free_text": str(data.get("free_text") or "").strip(),
        "language": data.get("language") or None,
    }
    problems = []
    for name, allowed in (
        ("sectors", tuple(taxonomy.sectors)),
        ("missing", MISSING_ITEMS),
        ("assistance_types", tuple(taxonomy.assistance_types)),
    ):
        unknown = [code for code in values[name] if code not in allowed]
        if unknown:
            problems.append(
                {"loc": f"body.{name}", "message": f"unknown {unknown}; allowed: {', '.join(allowed)}"}
            )
    if values["language"] is not None and values["language"] not in UN_LANGUAGES:
        problems.append({"loc": "body.language", "message": f"one of {', '.join(UN_LANGUAGES)}"})
    if not (values["sectors"] or values["missing"] or values["free_text"]):
        problems.append(
            {"loc": "body", "message": "tick at least one source or missing item, or write a few words"}
        )
    if len(values["free_text"]) > 10_000:
        problems.append({"loc": "body.free_text", "message": "at most 10,000 characters"})
    return values, problems


def statement_text(values: Mapping[str, Any], language: str) -> str:
    """The response as one text in the respondent's language: the free text, then what is
    missing and about which sources (taxonomy labels), so a need made from it reads whole."""
    taxonomy = load_taxonomy()
    parts = [values["free_text"]] if values["free_text"] else []
    if values["missing"]:
        parts.append(
            missing_label("missing", language)
            + ": "
            + ", ".join(missing_label(item, language) for item in values["missing"])
            + "."
        )
    if values["sectors"]:
        parts.append(
            missing_label("sources", language)
            + ": "
            + ", ".join(taxonomy.sectors[code].label_in(language) for code in values["sectors"])
            + "."
        )
    return " ".join(parts)


def submit_response(
    session: Session,
    principal: Principal,
    round_id: int,
    data: Mapping[str, Any],
    *,
    matching: MatchingService,
    as_need: str = "",
    party: str | None = None,
    today: dt.date | None = None,
    demo: bool = False,
) -> SurveyResponse:
    """Record (or replace) a Party's response to an open round and commit. A party key
    answers for its own Party; staff name ``party``. ``as_need``: ``draft`` or ``submitted``
    makes the response a need (once; later resubmissions leave that need to the Party)."""
    if principal.role == "party":
        party = principal.party
    elif principal.is_staff:
        if not party or session.get(Party, party.upper()) is None:
            raise Invalid(
                "name the Party this response is for", [{"loc": "body.party", "message": "required"}]
            )
        party = party.upper()
    else:
        raise Forbidden("only a Party (or the secretariat for it) answers a needs survey")
    assert party is not None
    survey = get_round(session, round_id)
    if not is_open(survey, today):
        raise Conflict(
            f"the survey round {survey.id} is not open (deadline {survey.deadline.isoformat()})",
            [{"loc": "round", "message": "closed or past its deadline"}],
        )
    if as_need not in AS_NEED:
        raise Invalid("as_need is draft, submitted or empty", [{"loc": "body.as_need", "message": "unknown"}])
    values, problems = _checked(data)
    if problems:
        raise Invalid("the survey response is incomplete or has unknown codes", problems)
    reader = default_reader()
    detected = reader.detector.detect(values["free_text"]) if values["free_text"] else None
    language = values["language"] or detected or "en"
    text = statement_text(values, language)
    statement = read_statement(
        text,
        language,
        sectors=values["sectors"],
        assistance_types=values["assistance_types"],
        missing=values["missing"],
        reader=reader,
    )
    response = response_of(session, survey.id, party)
    before = None if response is None else {"missing": response.missing, "sectors": response.sectors}
    if response is None:
        response = SurveyResponse(round_id=survey.id, party_iso3=party)
        session.add(response)
    for name in ("sectors", "missing", "assistance_types", "free_text"):
        setattr(response, name, values[name])
    response.language = language
    response.submitted_at = utcnow()
    answer = session.scalar(
        select(ReportAnswer).where(
            ReportAnswer.party_iso3 == party,
            ReportAnswer.cycle == survey.opens.year,
            ReportAnswer.question_id == f"survey-{survey.id}",
        )
    )
    if answer is None:
        answer = ReportAnswer(
            party_iso3=party, cycle=survey.opens.year, question_id=f"survey-{survey.id}", source="survey"
        )
        session.add(answer)
    answer.question = survey.title
    answer.answer = text
    answer.language = language
    answer.sectors = list(dict.fromkeys([*values["sectors"], *statement.reading.inferred_sectors]))
    answer.assistance_types = list(
        dict.fromkeys([*values["assistance_types"], *statement.reading.inferred_assistance_types])
    )
    answer.challenge_kind = statement.challenge.kind
    answer.vague = statement.vague
    answer.demo = demo or survey.demo
    session.flush()
    audit(
        session,
        principal,
        "survey.respond",
        "survey_response",
        str(response.id),
        before=before,
        after={
            "round": survey.id,
            "party": party,
            "missing": values["missing"],
            "sectors": values["sectors"],
        },
    )
    if as_need and response.need_id is None:
        need = _need_from(session, principal, party, survey, values, text, language, matching, as_need)
        response = session.get(SurveyResponse, response.id) or response
        answer = session.get(ReportAnswer, answer.id) or answer
        response.need_id = answer.need_id = need.id
    session.commit()
    return response


def _need_from(
    session: Session,
    principal: Principal,
    party: str,
    survey: SurveyRound,
    values: Mapping[str, Any],
    text: str,
    language: str,
    matching: MatchingService,
    as_need: str,
) -> Need:
    taxonomy = load_taxonomy()
    subject = ", ".join(taxonomy.sectors[code].label_in(language) for code in values["sectors"][:3])
    title = f"{survey.title}: {subject}" if subject else survey.title
    data = {
        "party": party,
        "title": title[:500],
        "description": text,
        "language": language,
        "sectors": values["sectors"],
        "assistance_types": values["assistance_types"],
    }
    # An example round's needs are examples too (``matcher demo remove`` finds them by id).
    need_id = f"demo-survey-{survey.id}-{party.lower()}" if survey.demo else None
    return create_need(session, principal, data, matching=matching, draft=as_need == "draft", need_id=need_id)


def round_record(survey: SurveyRound, responses: int | None = None) -> dict[str, Any]:
    return {
        "id": survey.id,
        "title": survey.title,
        "opens": survey.opens,
        "deadline": survey.deadline,
        "created_by": survey.created_by,
        "closed_at": survey.closed_at,
        "open": is_open(survey),
        "responses": responses,
    }


def response_record(response: SurveyResponse) -> dict[str, Any]:
    return {
        "id": response.id,
        "round": response.round_id,
        "party": response.party_iso3,
        "sectors": list(response.sectors or []),
        "missing": list(response.missing or []),
        "assistance_types": list(response.assistance_types or []),
        "free_text": response.free_text,
        "language": response.language,
        "submitted_at": response.submitted_at,
        "need_id": response.need_id,
    }
