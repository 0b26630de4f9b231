"""The workbench: server-rendered pages for Parties, providers and the secretariat.

One module per audience, like ``api/routes/``: ``session`` (sign-in, form tokens,
language, rendering), ``review`` (the secretariat's queue and report), ``requests`` (the
Party's requests and the need page), ``programmes`` (the provider's programmes),
``account`` (any key's notification addresses, digest choice and latest notices) and
``assessment`` (answers, needs surveys, drafts and the assessment download).
"""

from __future__ import annotations

from fastapi import APIRouter

from matcher.api.web import account, assessment, programmes, requests, review, session
from matcher.api.web.session import HERE, SignInRequired, error_page

router = APIRouter(include_in_schema=False)
for module in (session, review, requests, programmes, account, assessment):
    router.include_router(module.router)

__all__ = ["HERE", "SignInRequired", "error_page", "router"]
