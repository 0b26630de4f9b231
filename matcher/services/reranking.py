"""Learned re-rankers: train one on the store's history and decisions, promote it only when it
beats the hand-set weights on held-out case groups, list them, roll back.

The training itself (cases, leave-group-out evaluation, the promotion rule) is
``matcher.engine.learning``; this module reads the store, records the model with its
evaluation (``RankingModel``: parameters as JSON, never a pickle) and audits every step
(``model.train``, ``model.promote``, ``model.rollback``). Any model change moves the
catalogue version; ``MatchingService.history_changed`` swaps the new model in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.engine.learning import build_cases, case_groups, cross_validate, fit, should_promote
from matcher.engine.query import NeedQuery
from matcher.engine.reranker import LinearReranker
from matcher.services.access import Conflict, Principal, audit, require_staff
from matcher.services.history import load_history
from matcher.services.matching import MatchingService
from matcher.store.models import RankingModel, utcnow


@dataclass
class TrainingReport:
    model: RankingModel
    promoted: bool
    reason: str

    def lines(self) -> list[str]:
        evaluation = self.model.evaluation
        interval = evaluation.get("interval") or ["–", "–"]
        verdict = "promoted" if self.promoted else "refused"
        return [
            f"{self.model.version}: {verdict}: {self.reason}",
            f"held-out nDCG@10: model {_shown(evaluation.get('model_ndcg10'))}, hand-set "
            f"{_shown(evaluation.get('hand_ndcg10'))}, difference {_shown(evaluation.get('difference'))} "
            f"[{_shown(interval[0])}, {_shown(interval[1])}] over {evaluation.get('needs', 0)} needs in "
            f"{evaluation.get('groups', 0)} case groups",
        ]


def _shown(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def active_reranker(session: Session) -> LinearReranker | None:
    """The promoted model that orders rankings, or None (the hand-set weights order them)."""
    row = session.scalar(select(RankingModel).where(RankingModel.state == "active"))
    return LinearReranker.from_parameters(row.version, row.parameters) if row is not None else None


def train_model(
    session: Session, service: MatchingService, principal: Principal, *, today: dt.date | None = None
) -> TrainingReport:
    """Train a re-ranker on every past need of the store, evaluate it leave-group-out against
    the hand-set weights, and record it: ``active`` (the previous active one retired) when
    ``should_promote`` says so, ``refused`` otherwise. Works in the caller's transaction."""
    require_staff(principal, "train ranking models")
    history = load_history(session, service)
    groups = case_groups(history)

    def vectors(query: NeedQuery) -> dict[str, np.ndarray]:
        return service.need_vectors(session, query)

    engine = service.engine
    comparison = cross_validate(engine, history, vectors, groups, today=today)
    cases = build_cases(engine, history, vectors, groups, today=today)
    promote, reason = should_promote(comparison)
    model = fit(cases)
    if model is None:
        promote, reason = False, "nothing to learn: the judged offerings are all of one kind"
    now = utcnow()
    row = RankingModel(
        actor=principal.actor,
        state="active" if promote else "refused",
        reason=reason,
        parameters=model.parameters() if model is not None else {},
        evaluation=comparison.as_dict(),
        training={
            "past_needs": len(history),
            "cases": len(cases),
            "groups": len(set(groups.values())),
            "labelled": sum(len(case.labelled()) for case in cases),
            "positives": sum(len(case.positives) for case in cases),
        },
        promoted_at=now if promote else None,
    )
    retired = None
    if promote:
        retired = session.scalar(select(RankingModel).where(RankingModel.state == "active"))
        if retired is not None:
            retired.state, retired.retired_at = "retired", now
            session.flush()
    session.add(row)
    session.flush()
    audit(session, principal, "model.train", "ranking_model", row.version, after=_summary(row))
    if promote:
        audit(
            session,
            principal,
            "model.promote",
            "ranking_model",
            row.version,
            before={"active": retired.version if retired is not None else "hand-set"},
            after={"active": row.version},
        )
    return TrainingReport(row, promote, reason)


def list_models(session: Session) -> list[RankingModel]:
    """Every trained model, newest first."""
    return list(session.scalars(select(RankingModel).order_by(RankingModel.id.desc())))


def rollback(session: Session, principal: Principal) -> tuple[RankingModel, RankingModel | None]:
    """Retire the active model and re-activate the one promoted before it (None: the hand-set
    weights order rankings again). Returns (retired, restored)."""
    require_staff(principal, "roll back ranking models")
    active = session.scalar(select(RankingModel).where(RankingModel.state == "active"))
    if active is None:
        raise Conflict("no model is active: rankings already use the hand-set weights")
    previous = session.scalar(
        select(RankingModel)
        .where(
            RankingModel.state == "retired",
            RankingModel.promoted_at.is_not(None),
            RankingModel.id < active.id,
        )
        .order_by(RankingModel.id.desc())
        .limit(1)
    )
    now = utcnow()
    active.state, active.retired_at = "retired", now
    session.flush()
    if previous is not None:
        previous.state, previous.retired_at = "active", None
    session.flush()
    audit(
        session,
        principal,
        "model.rollback",
        "ranking_model",
        active.version,
        before={"active": active.version},
        after={"active": previous.version if previous is not None else "hand-set"},
    )
    return active, previous


def _summary(row: RankingModel) -> dict[str, Any]:
    return {"state": row.state, "reason": row.reason, "evaluation": row.evaluation, "training": row.training}
