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

    Like any read, it first brings the process up to the database's version when another
    worker (or ``matcher catalog load``) changed the catalogue (``ensure_fresh``: one indexed
    row read, the changed rows applied if any); then it compares two numbers. It never waits:
    rankings take no lock, and while another thread is applying changes the probe answers at
    once (stale, until that thread is done). So a probe costs the same at any catalogue size."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as problem:  # any driver error means "not ready", and says which
        checks["database"] = f"unreachable: {type(problem).__name__}"
        return checks
    if matching.catalog_version < 0 or (matching.encoders and not matching.indexes.indexes):
        checks["index"] = "not loaded"
    else:
        matching.ensure_fresh(session, wait=False)
    current = catalog_version(session)
    serving = matching.catalog_version
    checks["catalog"] = (
        "ok" if serving == current else f"stale: serving version {serving}, database at {current}"
    )
    return checks


def is_ready(checks: dict[str, Any]) -> bool:
    return all(value == "ok" for value in checks.values())
