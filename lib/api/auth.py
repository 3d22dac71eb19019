"""The request's identity: a Bearer workbench token, checked, rate limited and held to an action.

Routes declare what they need (`Depends(needs(RUN))`); the dependency authenticates the token
(401), counts the request against the token's rpm (429 + Retry-After) and checks the scope (403),
so every route gets the same three checks in the same order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from lib.identity import Identity, require

from .errors import ApiError
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


_declared: dict[int, frozenset[str]] = {}


def _query_names(route: Any) -> frozenset[str]:
    """The query parameters a route declares (its own and its dependencies')."""
    names = _declared.get(id(route))
    if names is None:
        found: set[str] = set()

        def walk(dep: Any) -> None:
            found.update(p.alias for p in dep.query_params)
            for sub in dep.dependencies:
                walk(sub)

        walk(route.dependant)
        names = _declared[id(route)] = frozenset(found)
    return names


async def known_query_only(request: Request) -> None:
    """Refuse query parameters a route does not declare (a typo like `?lable=` would silently be ignored)."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    allowed = _query_names(route)
    for key in request.query_params:
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ApiError(400, f"unknown query parameter {key!r} (known: {known})", param=key)
