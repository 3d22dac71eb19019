"""The hot path: `GET /api/v1/prompts/NAME[?label=L|?version=V]` answered from the payload cache in plain ASGI.

Production apps poll prompts by label; FastAPI's per-request dependency solving costs more than the
answer itself. When the payload is cached, this answers with the same checks (token, rpm, scope), the
same body and ETag and the same 304 as the FastAPI route; anything else (a miss, other parameters, odd
input) falls through to FastAPI, which stays the one documented route.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from lib.errors import WorkbenchError
from lib.identity import READ, require

from .errors import respond, to_api_error
from .prompt_payloads import etag_matches
from .tokens import authenticate

PREFIX = "/api/v1/prompts/"
MAX_VERSION = 2**31 - 1


def _target(scope: Scope) -> tuple[str, str | None, int | None] | None:
    """(name, label, version) when the request is a plain fetch this path may answer, else None."""
    if scope.get("method") != "GET":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    name = unquote(path[len(PREFIX):])
    if not name or "/" in name or len(name) > 200:
        return None
    label: str | None = None
    version: int | None = None
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if key == "label" and label is None and 0 < len(value) <= 100:
            label = value
        elif key == "version" and version is None and value.isdigit() and 1 <= int(value) <= MAX_VERSION:
            version = int(value)
        else:
            return None
    if label is not None and version is not None:
        return None
    return name, label, version


async def try_cached_fetch(app: FastAPI, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer a cached prompt fetch; False when FastAPI should handle the request."""
    target = _target(scope)
    if target is None:
        return False
    hit = app.state.payload_cache.get(*target)
    if hit is None:
        return False
    payload, etag = hit
    headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization")
    try:
        identity, rpm = authenticate(engine=app.state.engine_factory(),
                                     authorization=auth.decode("latin-1") if auth else None)
        app.state.token_limiter.check(identity.name, rpm)
        require(identity, READ)
    except WorkbenchError as exc:
        await respond(to_api_error(exc))(scope, receive, send)
        return True
    inm = headers.get(b"if-none-match")
    common = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
    if etag_matches(inm.decode("latin-1") if inm else None, etag):
        await send({"type": "http.response.start", "status": 304, "headers": common})
        await send({"type": "http.response.body", "body": b""})
        return True
    body = _dumps(payload)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *common]})
    await send({"type": "http.response.body", "body": body})
    return True


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class CachedFetchMiddleware:
    """ASGI middleware: cached prompt fetches answered here, everything else passed on unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Try the hot path, else the next app."""
        if scope["type"] == "http" and await try_cached_fetch(scope["app"], scope, receive, send):
            return
        await self.app(scope, receive, send)
