"""Query conditions several services share (the code filters of needs, offerings and proposals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, or_

from matcher.store.models import Need


def has_code(column: Any, code: str) -> Any:
    """The JSON list ``column`` holds ``code`` (codes are a controlled vocabulary, so the
    quoted form cannot occur inside another code)."""
    return cast(column, String).like(f'%"{code}"%')


def about_sector(code: str) -> Any:
    """The need states or implies (inferred) sector ``code``."""
    return or_(has_code(Need.sectors, code), has_code(Need.inferred_sectors, code))


def about_assistance_type(code: str) -> Any:
    """The need states or implies (inferred) assistance type ``code``."""
    return or_(has_code(Need.assistance_types, code), has_code(Need.inferred_assistance_types, code))
