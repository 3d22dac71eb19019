"""The request's identity: a Bearer workbench token, checked, rate limited and held to an action.

Routes declare what they need (`Depends(needs(RUN))`); the dependency authenticates the token
(401), counts the request against the token's rpm (429 + Retry-After) and checks the scope (403),
so every route gets the same three checks in the same order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from lib.identity import Identity, require

from .tokens import TokenRateLimiter, authenticate

bearer = HTTPBearer(auto_error=False, description="A workbench API token: `python -m lib tokens create`")


def engine_of(request: Request) -> Engine:
    """The engine the API was created with."""
    return request.app.state.engine_factory()


def limiter_of(request: Request) -> TokenRateLimiter:
    """The per-token rate limiter of this API instance."""
    return request.app.state.token_limiter


def needs(action: str) -> Callable[..., Awaitable[Identity]]:
    """A dependency returning the token's Identity once it is valid, under its rpm and allowed `action`."""

    async def dependency(request: Request,
                         _creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Identity:
        identity, rpm = authenticate(engine=engine_of(request), authorization=request.headers.get("authorization"))
        limiter_of(request).check(identity.name, rpm)
        return require(identity, action)

    return dependency
