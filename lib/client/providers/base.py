"""The provider contract: pydantic request/response/event models and the Provider base class.

A provider speaks one wire protocol (OpenAI-compatible, Anthropic, echo).  It does
one HTTP attempt per call and raises typed `ProviderError`s; retries, limits, the
deadline, cost and the run log live in `lib.client`, never here.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import aiohttp
import httpx
from pydantic import BaseModel, ConfigDict, Field

from lib.credentials import key_variable_problem
from lib.errors import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    ModelNotFoundError,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from lib.settings import get_settings

from .http1 import BodyTooLarge, Http1Pool

# Parameters every provider understands (other keys pass through unchanged).
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "stop", "presence_penalty",
                 "frequency_penalty", "seed", "response_format", "max_completion_tokens", "reasoning_effort",
                 "thinking_budget", "tools", "tool_choice", "parallel_tool_calls")


class EndpointConfig(BaseModel):
    """What a provider needs to know about its endpoint (a detached copy of the Endpoint row)."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str  # a key of the provider registry, `lib.client.providers.PROVIDERS` (checked there)
    base_url: str = ""
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    models: list[str] = Field(default_factory=list)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int = 8
    timeout_s: float = 60.0
    options: dict[str, Any] = Field(default_factory=dict)


class ChatRequest(BaseModel):
    """One call: model (without the endpoint prefix), messages, sampling params."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["chat", "completion"] = "chat"


class ChatResponse(BaseModel):
    """A provider's answer (usage as the provider reported it; None when it did not).

    `tool_calls` are in the OpenAI shape `[{id, type: "function", function: {name, arguments}}]`
    (arguments a JSON string) for every kind; `reasoning` is the model's thinking text where the
    provider returns it; `reasoning_tokens` is part of `completion_tokens` (so it is priced);
    `thinking_blocks` are Anthropic's signed thinking blocks, kept verbatim to be sent back on a tool turn.
    """

    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    reasoning: str | None = None
    reasoning_tokens: int | None = None
    thinking_blocks: list[dict[str, Any]] | None = None  # Anthropic's signed thinking blocks, verbatim
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    usage_raw: dict[str, Any] | None = None
    request_id: str | None = None
    http_status: int | None = None
    model: str | None = None


class ProviderEvent(BaseModel):
    """A streamed event: a text delta, or the terminal event carrying the full response."""

    type: Literal["delta", "done"]
    text: str = ""
    response: ChatResponse | None = None


def request_id_of(headers: httpx.Headers | dict | None) -> str | None:
    """The provider's request id from response headers, if any."""
    if not headers:
        return None
    for key in ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray"):
        val = headers.get(key)
        if val:
            return str(val)[:200]
    return None


def parse_retry_after(headers: httpx.Headers | dict | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, then `retry-after` (seconds or HTTP date); None if absent."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra:
        try:
            return max(0.0, float(ra))
        except ValueError:
            try:
                dt = email.utils.parsedate_to_datetime(ra)
                return max(0.0, dt.timestamp() - (now if now is not None else time.time()))
            except (TypeError, ValueError):
                return None
    return None


def provider_message_of(body: str) -> str | None:
    """The human message inside an error body ({"error": {"message": ...}} or {"error": "..."})."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return body.strip()[:500] or None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type")
            return str(msg)[:500] if msg else None
        if isinstance(err, str):
            return err[:500]
        if data.get("message"):
            return str(data["message"])[:500]
    return None


def error_for_status(status: int, body: str, headers: httpx.Headers | dict | None,
                     endpoint: str) -> ProviderError:
    """The typed error for an HTTP error status (the body is kept, truncated; never a key)."""
    pmsg = provider_message_of(body)
    rid = request_id_of(headers)
    if status in (400, 422):
        cls: type[ProviderError] = BadRequestError
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = ModelNotFoundError
    elif status == 429:
        cls = RateLimitError
    elif status in (408, 409) or status >= 500:
        cls = ServerError
    else:
        cls = BadRequestError
    text = f"{endpoint}: HTTP {status}" + (f": {pmsg}" if pmsg else "")
    err = cls(text, status_code=status, body=body, request_id=rid, provider_message=pmsg)
    err.retry_after = parse_retry_after(headers)  # type: ignore[attr-defined]
    return err


class FastResponse:
    """The parts of an httpx.Response the providers read (status, headers, body), without httpx."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Any, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.content.decode("utf-8", "replace")

    async def aclose(self) -> None:
        """Nothing to close: the body is already read."""


class Provider:
    """Base class: one pooled HTTP client per endpoint; subclasses implement the protocol.

    Class attributes describe the kind for the registry: its default base URL, the provider id
    prices are looked up with, whether it has an embeddings API and a Batch API, whether it is free.
    """

    default_base_url: str = ""
    price_provider: str | None = None
    has_embeddings: bool = False
    has_batch_api: bool = False
    free: bool = False  # a local kind that costs nothing (echo)

    def __init__(self, config: EndpointConfig, *, api_key: Callable[[], str | None] | str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        # The key is looked up per request (a function), so it is never kept in the pooled client.
        self._key_fn: Callable[[], str | None] = api_key if callable(api_key) else (lambda: api_key)  # type: ignore
        self._transport = transport
        self._pool: httpx.AsyncBaseTransport | None = None
        self._urls: dict[str, httpx.URL] = {}
        self._headers: dict[str, str] | None = None
        self._http1: Http1Pool | None = None

    def transport(self) -> httpx.AsyncBaseTransport:
        """The pooled transport (aiohttp unless one was injected), made lazily on the running loop."""
        if self._pool is None:
            if self._transport is not None:
                self._pool = self._transport
            else:
                from httpx_aiohttp import AiohttpTransport

                n = max(8, int(self.config.max_concurrency or 8) * 2)
                self._pool = AiohttpTransport(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                                              trust_env=False)
        return self._pool

    async def send(self, method: str, url: str, body: bytes | None = None, *, stream: bool = False,
                   headers: dict[str, str] | None = None) -> httpx.Response | FastResponse:
        """One request straight to the transport (httpx models, no AsyncClient machinery: it costs
        more per call than the call itself at 1,000 calls/s).  The body is read unless `stream`; a non-streamed
        request goes over the provider's own HTTP/1.1 connections (`http1`, which sets no timer of its own: the
        caller bounds the wait, with a call's deadline or a health check's timeout)."""
        hdrs = {**self._static_headers(), **self.auth_headers(), **(headers or {})}
        if not stream and self._transport is None and self._http1_pool().accepts(url):
            return await self._send_fast(method, url, body, hdrs)
        t = float(self.config.timeout_s or 60.0)  # generous per-phase caps; the client enforces the deadline
        req = httpx.Request(method, self._url(url), content=body, headers=hdrs,
                            extensions={"timeout": {"connect": min(t, 10.0), "read": t, "write": t, "pool": t}})
        resp = await self.transport().handle_async_request(req)
        resp.request = req
        if not stream:
            try:
                await resp.aread()
            finally:
                await resp.aclose()
            cap = get_settings().max_response_bytes
            if len(resp.content) > cap:
                raise too_large(self.config.name, cap, resp.content, resp.status_code)
        return resp

    async def _send_fast(self, method: str, url: str, body: bytes | None, hdrs: dict[str, str]) -> FastResponse:
        """A non-streamed request over the provider's own keep-alive HTTP/1.1 connections (`http1`): aiohttp's
        ClientSession cost three times as much Python per request, most of the client's CPU at 0 ms latency."""
        cap = get_settings().max_response_bytes
        try:
            status, headers, content = await self._http1_pool().request(method, url, body, hdrs, cap)
        except BodyTooLarge as exc:
            raise too_large(self.config.name, cap, exc.first, exc.status) from None
        return FastResponse(status, headers, content)

    def _http1_pool(self) -> Http1Pool:
        if self._http1 is None:
            self._http1 = Http1Pool(max(8, int(self.config.max_concurrency or 8) * 2))
        return self._http1

    @contextlib.asynccontextmanager
    async def open_stream(self, method: str, url: str, body: bytes | None = None,
                          headers: dict[str, str] | None = None) -> AsyncIterator[httpx.Response]:
        """A streaming response, closed on exit."""
        resp = await self.send(method, url, body, stream=True, headers=headers)
        try:
            yield resp
        finally:
            await resp.aclose()

    def _url(self, url: str) -> httpx.URL:
        hit = self._urls.get(url)
        if hit is None:
            hit = self._urls[url] = httpx.URL(url)
        return hit

    def _static_headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {"user-agent": "prompt-workbench", **self.base_headers()}
        return self._headers

    def base_headers(self) -> dict[str, str]:
        """Non-secret headers sent with every request."""
        return {"content-type": "application/json", **(self.config.headers or {})}

    def api_key(self) -> str | None:
        """The key, read now; AuthenticationError (naming the variable, never a value) if it is missing."""
        problem = key_variable_problem(self.config.api_key_env)
        if problem:  # checked at call time too: a row written before the allowlist existed
            raise AuthenticationError(f"{self.config.name}: {problem}")
        key = self._key_fn()
        if not key and self.config.api_key_env:

            raise AuthenticationError(
                f"{self.config.name}: no API key: set the environment variable {self.config.api_key_env} "
                "or add it to .streamlit/secrets.toml")
        return key

    def auth_headers(self) -> dict[str, str]:
        """Per-request auth headers (subclasses)."""
        return {}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One non-streaming call."""
        raise NotImplementedError

    def stream(self, request: ChatRequest) -> AsyncIterator[ProviderEvent]:
        """One streaming call: deltas, then exactly one `done` event (or an error)."""
        raise NotImplementedError

    async def list_models(self) -> list[str]:
        """Model ids the endpoint serves (static list when it has one)."""
        return list(self.config.models)

    async def fetch_models(self, url: str) -> list[str]:
        """GET a models listing (`{"data": [{"id"}]}` or `{"models": [{"name"}]}`); the static list on 404."""
        try:
            resp = await self.send("GET", url)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.config.name) from None
        if resp.status_code == 404 and self.config.models:
            return list(self.config.models)
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, resp.text, resp.headers, self.config.name)
        data = load_json(resp.content, self.config.name, resp.status_code, resp.headers)
        items = data.get("data", data.get("models", [])) if isinstance(data, dict) else data
        return sorted(str(m.get("id") or m.get("name")) for m in items if isinstance(m, dict))

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._http1 is not None:
            await self._http1.aclose()
            self._http1 = None
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def broken_stream(exc: httpx.HTTPError, endpoint: str, parts: list[str], headers) -> ProviderError:
    """A transport failure during a stream: incomplete (partial text kept) once the response had begun."""
    if parts or headers is not None:
        return IncompleteStreamError(f"{endpoint}: stream broken after {len(parts)} chunks ({type(exc).__name__})",
                                     partial_text="".join(parts), request_id=request_id_of(headers))
    return transport_error(exc, endpoint)


def transport_error(exc: BaseException, endpoint: str) -> ProviderError:
    """A typed error for a transport failure (refused, reset, timeout), looking through aiohttp's mapping."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return ProviderTimeoutError(f"{endpoint}: timed out ({type(cause).__name__})")
    if isinstance(cause, aiohttp.ClientConnectorError):
        return ProviderConnectionError(f"{endpoint}: cannot connect ({cause.os_error.strerror or 'refused'})"
                                       if getattr(cause, "os_error", None) else f"{endpoint}: cannot connect")
    if isinstance(cause, aiohttp.ClientError):
        return ProviderConnectionError(f"{endpoint}: connection failed ({type(cause).__name__})")
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(f"{endpoint}: timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError) and isinstance(cause, OSError):  # our own connections (http1)
        return ProviderConnectionError(f"{endpoint}: cannot connect ({exc})")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError, httpx.LocalProtocolError)) and str(exc):
        return ProviderConnectionError(f"{endpoint}: connection failed ({type(exc).__name__}: {exc})")
    return ProviderConnectionError(f"{endpoint}: connection failed ({type(exc).__name__})")


def too_large(endpoint: str, cap: int, first: bytes, status: int) -> ProtocolError:
    """A reply over the size cap: a protocol error that keeps the first part of the body."""
    return ProtocolError(f"{endpoint}: reply too large: over {cap:,} bytes (WORKBENCH_MAX_RESPONSE_BYTES)",
                         status_code=status, body=first[:2000].decode("utf-8", "replace"))


_COUNTS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")
_OPTIONAL_TEXT = ("finish_reason", "reasoning", "request_id", "model")


def _problem(resp: ChatResponse) -> str | None:
    if not isinstance(resp.text, str):
        return f"content is {type(resp.text).__name__}, expected text"
    for f in _OPTIONAL_TEXT:
        v = getattr(resp, f, None)
        if v is not None and not isinstance(v, str):
            return f"{f} is {type(v).__name__} ({str(v)[:40]}), expected text"
    for f in _COUNTS:
        v = getattr(resp, f, None)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            return f"{f} is {v!r}, expected a whole number >= 0"
    if resp.usage_raw is not None and not isinstance(resp.usage_raw, dict):
        return f"usage is {type(resp.usage_raw).__name__}, expected an object"
    calls = getattr(resp, "tool_calls", None)
    if calls is not None and not (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
        return "tool_calls is not a list of objects"
    blocks = getattr(resp, "thinking_blocks", None)
    if blocks is not None and not (isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks)):
        return "thinking blocks are not a list of objects"
    return None


def checked(resp: ChatResponse, endpoint: str, status: int, raw: bytes | str, headers: Any = None) -> ChatResponse:
    """Every field taken from a provider has its type, and counts are >= 0 (never a negative cost or a
    defeated budget); otherwise a ProtocolError naming the field, with the raw body (capped) kept."""
    problem = _problem(resp)
    if problem is None:
        return resp
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    raise ProtocolError(f"{endpoint}: unexpected reply shape: {problem}", status_code=status, body=text[:2000],
                        request_id=request_id_of(headers) if headers is not None else None)


def load_json(body: bytes | str, endpoint: str, status: int, headers) -> Any:
    """Parse a JSON body or raise ProtocolError naming the endpoint."""
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        raise ProtocolError(f"{endpoint}: malformed JSON in response", status_code=status, body=text,
                            request_id=request_id_of(headers)) from None
