"""Statements of need from national reports and surveys, and the draft needs they become.

An answer (``ReportAnswer``) is imported by ``catalog.answers`` or written by a survey
response. Staff (or the Party itself) turn an answer into a **draft need**: a need in status
``draft``, never matched and never counted as open, that the Party then confirms (it becomes
``submitted`` and is matched like any new need), edits with coaching, or discards (it is
withdrawn with a reason; nothing is deleted, so the audit trail and the answer keep pointing
at it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.services.access import Forbidden, NotFound, Principal, audit
from matcher.services.matching import MatchingService
from matcher.services.needs import create_need
from matcher.services.paging import Page, paginate
from matcher.store.models import Need, ReportAnswer

TITLE_CHARACTERS = 120
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])\s*")


def draft_title(text: str) -> str:
    """A need title from an answer: its first sentence, cut at a word near 120 characters."""
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip() or text.strip()
    if len(first) <= TITLE_CHARACTERS:
        return first
    cut = first[:TITLE_CHARACTERS].rsplit(" ", 1)[0]
    return (cut if len(cut) > TITLE_CHARACTERS // 2 else first[:TITLE_CHARACTERS]) + "…"


def can_see(principal: Principal, answer: ReportAnswer) -> bool:
    return principal.is_staff or (principal.role == "party" and answer.party_iso3 == principal.party)


@dataclass(frozen=True)
class AnswerFilters:
    party: str | None = None
    cycle: int | None = None
    source: str | None = None
    challenge_kind: str | None = None
    vague: bool | None = None


def list_answers(
    session: Session, principal: Principal, filters: AnswerFilters, *, limit: int, offset: int
) -> Page[ReportAnswer]:
    """Answers the caller may see (staff: all; a Party: its own), by Party, cycle and question."""
    if principal.role not in ("party", "secretariat", "admin"):
        raise Forbidden("national-report answers are read by the secretariat and the Party that wrote them")
    query = select(ReportAnswer)
    if principal.role == "party":
        query = query.where(ReportAnswer.party_iso3 == principal.party)
    if filters.party:
        query = query.where(ReportAnswer.party_iso3 == filters.party.upper())
    if filters.cycle:
        query = query.where(ReportAnswer.cycle == filters.cycle)
    if filters.source:
        query = query.where(ReportAnswer.source == filters.source)
    if filters.challenge_kind:
        query = query.where(ReportAnswer.challenge_kind == filters.challenge_kind)
    if filters.vague is not None:
        query = query.where(ReportAnswer.vague.is_(filters.vague))
    order = (ReportAnswer.party_iso3, ReportAnswer.cycle, ReportAnswer.question_id)
    return paginate(session, query.order_by(*order), limit, offset)


def get_answer(session: Session, principal: Principal, answer_id: int) -> ReportAnswer:
    answer = session.get(ReportAnswer, answer_id)
    if answer is None or not can_see(principal, answer):
        raise NotFound(f"no answer {answer_id}")
    return answer


def draft_from_answer(
    session: Session,
    principal: Principal,
    answer_id: int,
    *,
    matching: MatchingService,
    need_id: str | None = None,
) -> Need:
    """Turn an answer into a draft need for its Party (staff, or the Party itself) and
    commit. An answer that already has a need returns that need: nothing is written twice."""
    answer = get_answer(session, principal, answer_id)
    if answer.need_id is not None:
        existing = session.get(Need, answer.need_id)
        if existing is not None:
            return existing
    data: dict[str, Any] = {
        "party": answer.party_iso3,
        "title": draft_title(answer.answer),
        "description": answer.answer,
        "language": answer.language,
    }
    need = create_need(session, principal, data, matching=matching, draft=True, need_id=need_id)
    answer = get_answer(session, principal, answer_id)
    answer.need_id = need.id
    audit(
        session,
        principal,
        "answer.draft",
        "report_answer",
        str(answer.id),
        after={"need_id": need.id, "party": answer.party_iso3, "question_id": answer.question_id},
    )
    session.commit()
    return need


def make_drafts(
    session: Session, principal: Principal, answers: Sequence[ReportAnswer], *, matching: MatchingService
) -> int:
    """Draft needs for every one of ``answers`` that has none yet; returns how many were made."""
    made = 0
    for answer_id in [answer.id for answer in answers if answer.need_id is None]:
        draft_from_answer(session, principal, answer_id, matching=matching)
        made += 1
    return made


def drafts_of(session: Session, principal: Principal) -> list[Need]:
    """The caller's draft needs (a Party: its own; staff: every Party's), oldest first."""
    query = select(Need).where(Need.status == "draft")
    if principal.role == "party":
        query = query.where(Need.party_iso3 == principal.party)
    elif not principal.is_staff:
        return []
    return list(session.scalars(query.order_by(Need.created_at, Need.id)))


def answer_record(answer: ReportAnswer) -> dict[str, Any]:
    return {
        "id": answer.id,
        "party": answer.party_iso3,
        "cycle": answer.cycle,
        "question_id": answer.question_id,
        "question": answer.question,
        "answer": answer.answer,
        "language": answer.language,
        "sectors": list(answer.sectors or []),
        "assistance_types": list(answer.assistance_types or []),
        "challenge_kind": answer.challenge_kind,
        "vague": answer.vague,
        "source": answer.source,
        "need_id": answer.need_id,
        "demo": answer.demo,
        "created_at": answer.created_at,
    }
