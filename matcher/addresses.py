"""E-mail addresses: one strict check shared by the import format, the API and the services.

An address is accepted when it is a plain ``local@domain`` (RFC 5321's dot-atom local part,
at most 64 characters; a domain of at least two DNS labels ending in a letter-only top
level; 320 characters in all). Quoted local parts, IP-literal domains, comments and display
names are refused: a notification address is typed by a person into a form or a file, and
a clear refusal is worth more than accepting exotic forms. Internationalised domains are
accepted in their ASCII (punycode) form only.

Addresses are stored lower-cased, so one mailbox is one address for de-duplication and for
its digest preference (practically every mail system treats the local part that way too).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

MAX_LENGTH = 320
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOP_LEVEL = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


def normalize_email(text: str) -> str:
    """``text`` as a stored address (trimmed, lower-cased); ``ValueError`` saying what is
    wrong when it is not a plain e-mail address."""
    address = text.strip()
    if not address:
        raise ValueError("an e-mail address cannot be empty")
    if len(address) > MAX_LENGTH:
        raise ValueError(f"an e-mail address has at most {MAX_LENGTH} characters")
    if address.count("@") != 1:
        raise ValueError(f"{address!r} is not an e-mail address: write it as name@example.org")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise ValueError(
            f"{address!r} is not an e-mail address: the part before @ must be 1 to 64 letters, digits "
            "or . _ - + (no spaces, no dot at either end or twice in a row)"
        )
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TOP_LEVEL.match(labels[-1])
    ):
        raise ValueError(
            f"{address!r} is not an e-mail address: the part after @ must be a domain such as example.org"
        )
    return address.lower()


def optional_email(text: str | None) -> str | None:
    """``normalize_email`` for an optional field: None or blank text give None."""
    if text is None or not text.strip():
        return None
    return normalize_email(text)


EmailAddress = Annotated[str, AfterValidator(normalize_email)]
"""A pydantic field type: a checked, lower-cased e-mail address."""
