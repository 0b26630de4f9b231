"""Operations: whether this process is ready to serve what the database holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from matcher.services.matching import MatchingService
from matcher.store.models import catalog_version


def readiness(session: Session, matching: MatchingService) -> dict[str, str]:
    """Each check's state ("ok" or why not): the database answers, the indexes are loaded,
    and the catalogue version this process reflects is the database's.

    It compares two numbers and never takes the matching lock, so a readiness probe costs the
    same at any catalogue size and never waits behind a ranking."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as problem:  # any driver error means "not ready", and says which
        checks["database"] = f"unreachable: {type(problem).__name__}"
        return checks
    if matching.engine is None or (matching.encoders and not matching.indexes.indexes):
        checks["index"] = "not loaded"
    current = catalog_version(session)
    serving = matching.catalog_version
    checks["catalog"] = (
        "ok" if serving == current else f"stale: serving version {serving}, database at {current}"
    )
    return checks


def is_ready(checks: dict[str, Any]) -> bool:
    return all(value == "ok" for value in checks.values())
