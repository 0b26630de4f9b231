"""Case work on a need (secretariat only): the officer it is assigned to and internal notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from matcher.api.deps import NeedId, PrincipalDep, SessionDep, errors
from matcher.api.schemas import AssignBody, AssignmentOut, NoteBody, NoteList, NoteOut
from matcher.services import cases
from matcher.services.access import Principal

router = APIRouter(prefix="/v1/needs", tags=["case work"])


def _actor(actor: cases.Actor) -> dict[str, Any]:
    return {"actor": actor.actor, "key_id": actor.key_id, "label": actor.label, "role": actor.role}


def _assignment(session: Session, principal: Principal, need_id: str) -> dict[str, Any]:
    found = cases.assignment_of(session, principal, need_id)
    officer, since = found if found is not None else (None, None)
    return {"need_id": need_id, "officer": _actor(officer) if officer else None, "assigned_at": since}


@router.post(
    "/{need_id}/assign",
    response_model=AssignmentOut,
    responses=errors(401, 403, 404, 422),
    summary="Assign a need's case to an officer",
)
def assign(need_id: NeedId, body: AssignBody, session: SessionDep, principal: PrincipalDep) -> Any:
    """Secretariat: the officer (a secretariat or admin key id) who handles the need's case;
    `null` unassigns it. Audited as `case.assign`."""
    cases.assign_case(session, principal, need_id, body.officer)
    session.commit()
    return _assignment(session, principal, need_id)


@router.get(
    "/{need_id}/notes",
    response_model=NoteList,
    responses=errors(401, 403, 404),
    summary="Internal notes on a need",
)
def notes(need_id: NeedId, session: SessionDep, principal: PrincipalDep) -> Any:
    """Secretariat: the case's internal notes, oldest first, with their authors. Never shown
    to the Party or to providers."""
    found = cases.list_notes(session, principal, need_id)
    authors = cases.describe_actors(session, principal, [note.author for note in found])
    return {"items": [_note(note, authors[note.author]) for note in found]}


@router.post(
    "/{need_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteOut,
    responses=errors(400, 401, 403, 404, 422),
    summary="Add an internal note",
)
def add_note(need_id: NeedId, body: NoteBody, session: SessionDep, principal: PrincipalDep) -> Any:
    """Secretariat: a note on the need's case (1 to 4,000 characters), audited as `case.note`."""
    note = cases.add_note(session, principal, need_id, body.text)
    session.commit()
    author = cases.describe_actors(session, principal, [note.author])[note.author]
    return _note(note, author)


def _note(note: Any, author: cases.Actor) -> dict[str, Any]:
    return {
        "id": note.id,
        "need_id": note.need_id,
        "author": _actor(author),
        "text": note.body,
        "created_at": note.created_at,
    }
