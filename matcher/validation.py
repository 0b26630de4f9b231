"""Value types every input path shares: the API's bodies and parameters, the workbench's
forms and the interchange rows of imports.

Each type refuses, as a validation error naming the field, what a database would choke on
or a reader would be misled by: control characters (NUL is refused by PostgreSQL and
stored silently by SQLite), numbers that are not finite, integers beyond a database
integer, links that are not web addresses.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints

# C0 control characters other than TAB, LF and CR.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The largest value of a 32-bit signed integer column (PostgreSQL INTEGER, SERIAL ids);
# also the bound on offsets, far beyond any list this service holds.
MAX_INT32 = 2**31 - 1
# Age filters in days: a century is more than any proposal's age, and far from the
# date arithmetic's limits (about 740,000 days back from today is year 1).
MAX_AGE_DAYS = 36_500
# Identifiers of needs, offerings and imported rows (the interchange format's rule).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$"
# Query filters that are free text: any character but the refused controls.
NO_CONTROL_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"


def refuse_control_characters(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first control character (TAB, LF and
    CR are allowed: descriptions have lines)."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X}; "
            "only tab, line feed and carriage return are allowed"
        )
    return value


def web_url(value: str) -> str:
    """An absolute http or https address with a host, nothing else (no ``javascript:``,
    ``data:``, relative or scheme-relative links)."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not value.isprintable():
        raise ValueError("must be an http:// or https:// address")
    if any(character.isspace() for character in value):
        raise ValueError("must be an http:// or https:// address without spaces")
    return value


def iso_date_text(value: Any) -> Any:
    """Dates arrive as ISO text ("2027-06-30"); a number is refused rather than read as
    seconds since 1970."""
    if isinstance(value, dt.date | str):
        return value
    raise ValueError("must be a date written as text, e.g. '2027-06-30'")


def as_utc(value: dt.datetime) -> dt.datetime:
    """A time without a zone is UTC; one with a zone is converted to UTC."""
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is outside the supported range of times") from None


# Text of any length; the API's and rows' own types add lengths and stripping.
CleanText = Annotated[str, AfterValidator(refuse_control_characters)]
# Money in US dollars: finite, not negative. Lax about its input (an import's CSV cell is text).
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# The same, taking only a JSON number (no "100", no true).
StrictMoney = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
# A count a 32-bit integer column holds.
Count = Annotated[int, Field(ge=0, le=MAX_INT32)]
StrictCount = Annotated[int, Strict(), Field(ge=0, le=MAX_INT32)]
WebUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(web_url)]
# A date given as ISO text (or a date object, from code); never a number.
IsoDate = Annotated[dt.date, Strict(False), BeforeValidator(iso_date_text)]
UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]
