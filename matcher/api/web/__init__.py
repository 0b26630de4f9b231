"""The workbench: server-rendered pages for the secretariat, Parties and providers.

One module per audience, like ``api/routes/``: ``session`` (sign-in, form tokens,
language, rendering), ``review`` (the secretariat's queue and report), ``requests`` (the
Party's requests and the need page), ``programmes`` (the provider's programmes) and
``assessment`` (answers, needs surveys, drafts and the assessment download).
"""

from __future__ import annotations

from fastapi import APIRouter

from matcher.api.web import assessment, programmes, requests, review, session
from matcher.api.web.session import HERE, SignInRequired, error_page, new_web_secret

router = APIRouter(include_in_schema=False)
for module in (session, review, requests, programmes, assessment):
    router.include_router(module.router)

__all__ = ["HERE", "SignInRequired", "error_page", "new_web_secret", "router"]
