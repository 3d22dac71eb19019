"""The hot paths, in plain ASGI: prompt fetches and gateway completions.

FastAPI's per-request routing and dependency solving cost more than the answer itself on the two
paths production apps hit all the time (measured: about 40% of the gateway's CPU per call):

- `GET /api/v1/prompts/NAME[?label=L|?version=V]` for a payload loaded before, answered from the payload
  cache (revalidated by its stamp when stale), with the same checks (token, rpm, scope), the same body
  and ETag and the same 304 as the FastAPI route;
- `POST /v1/chat/completions` and `POST /v1/completions` with a JSON body that validates against the
  routes' own request models: the same token checks, then the same `complete_call` as the routes.

Anything else (a cache miss, query parameters, another content type, a body that does not validate)
goes to FastAPI unchanged (a body already read is handed on), which stays the one documented route
and answers every error the way it always did.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lib.errors import WorkbenchError
from lib.identity import READ, RUN, require

from .errors import respond, to_api_error
from .gateway import complete_call
from .prompt_payloads import etag_matches
from .schemas import ChatCompletionRequest, CompletionRequest
from .tokens import authenticate

log = logging.getLogger(__name__)
PREFIX = "/api/v1/prompts/"
MAX_VERSION = 2**31 - 1
GATEWAY_ROUTES: dict[str, tuple[type[BaseModel], str]] = {
    "/v1/chat/completions": (ChatCompletionRequest, "chat"),
    "/v1/completions": (CompletionRequest, "completion"),
}


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
    cache = app.state.payload_cache
    hit = cache.get(*target)
    if hit is None and not cache.known(*target):
        return False  # never loaded here: FastAPI's route loads it (and answers every error its way)
    headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization")
    engine = app.state.engine_factory()
    try:
        identity, rpm = authenticate(engine=engine, authorization=auth.decode("latin-1") if auth else None)
        app.state.token_limiter.check(identity.name, rpm)
        require(identity, READ)
        # known but stale: one small query says whether it changed (shared by concurrent requests)
        payload, etag = hit if hit is not None else await cache.fetch(engine, *target)
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


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (as Starlette's `request.headers.get` gives it)."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the body already read on once, then the client's own messages."""
    sent = False

    async def replayed() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def try_gateway_call(app: FastAPI, scope: Scope, receive: Receive, send: Send) -> Receive | None:
    """Answer a gateway completion; None when answered, else the `receive` FastAPI should read the body from."""
    model, mode = GATEWAY_ROUTES[scope["path"]]
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return receive
    raw = await _read_body(receive)
    if raw is None:
        return None  # nobody left to answer
    try:
        body = model.model_validate(json.loads(raw))  # as FastAPI validates a body: JSON, then the model
    except (ValueError, RecursionError, PydanticValidationError):
        return _replay(raw, receive)  # FastAPI answers it, with its own 422
    engine = app.state.engine_factory()
    response: Response
    try:
        identity, rpm = authenticate(engine=engine, authorization=_header(scope, b"authorization"))
        app.state.token_limiter.check(identity.name, rpm)
        require(identity, RUN)
        response = await complete_call(engine, identity, body.model_dump(exclude_unset=True), mode)
    except Exception as exc:  # noqa: BLE001 - every error becomes the JSON error shape, as FastAPI's handlers do
        err = to_api_error(exc)
        if err.status >= 500:
            log.exception("API request failed: %s", type(exc).__name__)
        response = respond(err)
    await response(scope, receive, send)
    return None


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class CachedFetchMiddleware:
    """ASGI middleware: cached prompt fetches and valid gateway completions answered here, the rest passed on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Try the hot paths, else the next app."""
        if scope["type"] == "http":
            if await try_cached_fetch(scope["app"], scope, receive, send):
                return
            if (scope["path"] in GATEWAY_ROUTES and scope.get("method") == "POST"
                    and not scope.get("query_string")):
                next_receive = await try_gateway_call(scope["app"], scope, receive, send)
                if next_receive is None:
                    return
                receive = next_receive
        await self.app(scope, receive, send)
