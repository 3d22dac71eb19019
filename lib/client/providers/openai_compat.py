"""OpenAI-compatible provider: chat and legacy completions, models, embeddings, SSE streaming.

Works against OpenAI, vLLM, Ollama, llama.cpp server and LiteLLM gateways: Bearer key,
custom headers, base URL with or without `/v1`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from lib.errors import IncompleteStreamError, ProtocolError
from lib.runs import construct

from .base import (
    ChatRequest,
    ChatResponse,
    FastResponse,
    Provider,
    ProviderEvent,
    broken_stream,
    checked,
    error_for_status,
    load_json,
    request_id_of,
    transport_error,
)

DEFAULT_BASE = "https://api.openai.com/v1"
# OpenAI's reasoning models refuse `max_tokens` ("use 'max_completion_tokens'")
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.I)
THINKING_ONLY = ("thinking_budget",)  # Anthropic's control; an OpenAI-compatible server is not sent it


def api_root(base_url: str, add_v1: bool = True) -> str:
    """The API root: the base URL ending in /v1 (or another /vN) unless told not to add one."""
    url = (base_url or DEFAULT_BASE).rstrip("/")
    if add_v1 and not re.search(r"/v\d+(beta\d*)?$", url):
        url += "/v1"
    return url


def wants_max_completion_tokens(base_url: str, options: dict[str, Any], model: str) -> bool:
    """Whether `max_tokens` goes out as `max_completion_tokens`: the endpoint option
    `max_completion_tokens` when set, else automatic for api.openai.com's o-series and gpt-5 models."""
    opt = options.get("max_completion_tokens")
    if opt is not None:
        return bool(opt)
    host = httpx.URL(base_url or DEFAULT_BASE).host
    return host == "api.openai.com" and bool(REASONING_MODEL.match(model or ""))


def body_params(params: dict[str, Any], *, completion_tokens: bool = False) -> dict[str, Any]:
    """Sampling params as the OpenAI wire format wants them (`response_format: json` shortcut;
    `max_tokens` renamed `max_completion_tokens` for models that want it)."""
    out = {k: v for k, v in params.items() if v is not None and k not in THINKING_ONLY}
    rf = out.get("response_format")
    if rf in ("json", "json_object"):
        out["response_format"] = {"type": "json_object"}
    if completion_tokens and "max_tokens" in out:
        out.setdefault("max_completion_tokens", out.pop("max_tokens"))
        out.pop("max_tokens", None)
    return out


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def _without_thinking(messages: list[dict]) -> list[dict]:
    """The messages without Anthropic's signed `thinking_blocks` (a thread can move between kinds)."""
    if not any("thinking_blocks" in m for m in messages):
        return messages
    return [{k: v for k, v in m.items() if k != "thinking_blocks"} for m in messages]


def prompt_of(messages: list[dict]) -> str:
    """Legacy completions take one prompt string: the message contents (their text parts) joined."""
    return "\n\n".join(_text_of(m.get("content")) for m in messages)


def reasoning_tokens_of(usage: dict | None) -> int | None:
    """`completion_tokens_details.reasoning_tokens` (already counted in completion_tokens)."""
    details = (usage or {}).get("completion_tokens_details") or {}
    value = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return value if isinstance(value, int) else None


def reasoning_of(message: dict) -> str | None:
    """The reasoning text a server returns beside the answer (`reasoning_content` or `reasoning`)."""
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) and value else None


class ToolCallAccumulator:
    """Streamed `tool_calls` deltas assembled by index: the first carries id and name, later ones
    carry fragments of the arguments; a call is whole only at the end of the stream."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, deltas: list[Any]) -> None:
        """Merge one chunk's `delta.tool_calls`."""
        for d in deltas or []:
            if not isinstance(d, dict):
                continue
            idx = int(d.get("index", len(self.calls)))
            call = self.calls.setdefault(idx, {"id": "", "type": "function",
                                               "function": {"name": "", "arguments": ""}})
            if d.get("id"):
                call["id"] = str(d["id"])
            fn = d.get("function") or {}
            if fn.get("name"):
                call["function"]["name"] += str(fn["name"])
            if fn.get("arguments"):
                call["function"]["arguments"] += str(fn["arguments"])

    def result(self) -> list[dict[str, Any]] | None:
        """The whole calls in index order (None when there were none)."""
        return [self.calls[i] for i in sorted(self.calls)] or None


class OpenAICompatProvider(Provider):
    """Chat completions (default) or legacy completions (`mode="completion"`)."""

    default_base_url = DEFAULT_BASE
    price_provider = "openai"
    has_embeddings = True
    has_batch_api = True

    def __init__(self, config: Any, **kw: Any) -> None:
        super().__init__(config, **kw)
        self._root: str | None = None
        self._mct: dict[str, bool] = {}

    def auth_headers(self) -> dict[str, str]:
        """The Bearer key when there is one (read per request)."""
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def root(self) -> str:
        """The API root, ending in /v1 unless the endpoint says otherwise (computed once: the config is frozen)."""
        if self._root is None:
            self._root = api_root(self.config.base_url, bool(self.config.options.get("add_v1", True)))
        return self._root

    def _completion_tokens(self, model: str) -> bool:
        """wants_max_completion_tokens for this endpoint, remembered per model (it parses the base URL)."""
        hit = self._mct.get(model)
        if hit is None:
            hit = self._mct[model] = wants_max_completion_tokens(self.config.base_url, self.config.options, model)
        return hit

    def _payload(self, request: ChatRequest, stream: bool) -> tuple[str, dict[str, Any]]:
        params = body_params(request.params, completion_tokens=self._completion_tokens(request.model))
        if request.mode == "completion":
            url, payload = f"{self.root}/completions", {"model": request.model, "prompt": prompt_of(request.messages)}
        else:
            url, payload = f"{self.root}/chat/completions", {"model": request.model,
                                                             "messages": _without_thinking(request.messages)}
        payload.update(params)
        if stream:
            payload["stream"] = True
            if self.config.options.get("stream_usage", True):
                payload["stream_options"] = {"include_usage": True}
        return url, payload

    def _parse(self, data: Any, status: int, headers, raw: bytes) -> ChatResponse:
        name = self.config.name
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
            if isinstance(data, dict) and data.get("error"):
                err = data["error"]
                msg = err.get("message") if isinstance(err, dict) else str(err)
                raise ProtocolError(f"{name}: error in response body: {msg}", status_code=status,
                                    provider_message=msg, request_id=request_id_of(headers))
            raise ProtocolError(f"{name}: response has no choices", status_code=status,
                                body=raw.decode("utf-8", "replace"), request_id=request_id_of(headers))
        choice = data["choices"][0]
        usage = data.get("usage") or None
        if not isinstance(choice, dict) or not isinstance(choice.get("message", {}), dict) or not isinstance(
                usage or {}, dict):
            what = "choices[0]" if not isinstance(choice, dict) else ("usage" if isinstance(
                choice.get("message", {}), dict) else "message")
            raise ProtocolError(f"{name}: unexpected reply shape: {what} is not an object", status_code=status,
                                body=raw.decode("utf-8", "replace")[:2000], request_id=request_id_of(headers))
        calls = reasoning = None
        if "message" in choice:
            message = choice.get("message") or {}
            text = message.get("content") or ""
            if isinstance(text, list):  # some servers answer with content parts
                text = _text_of(text)
            calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)] or None
            reasoning = reasoning_of(message)
        else:
            text = choice.get("text") or ""
        return checked(construct(ChatResponse, dict(
            text=text, tool_calls=calls, reasoning=reasoning, reasoning_tokens=reasoning_tokens_of(usage),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens") if usage else None,
            completion_tokens=usage.get("completion_tokens") if usage else None,
            cached_tokens=((usage.get("prompt_tokens_details") or {}).get("cached_tokens") if usage else None),
            usage_raw=usage, request_id=request_id_of(headers), http_status=status, model=data.get("model"))),
            name, status, raw, headers)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One POST, parsed; HTTP errors become typed ProviderErrors."""
        url, payload = self._payload(request, stream=False)
        try:
            resp = await self.send("POST", url, json.dumps(payload).encode())
            raw = resp.content
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.config.name) from None
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, raw.decode("utf-8", "replace"), resp.headers, self.config.name)
        data = load_json(raw, self.config.name, resp.status_code, resp.headers)
        return self._parse(data, resp.status_code, resp.headers, raw)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ProviderEvent]:  # type: ignore[override]
        """SSE deltas until `[DONE]`; a stream cut before it raises IncompleteStreamError with the partial text."""
        url, payload = self._payload(request, stream=True)
        name = self.config.name
        parts: list[str] = []
        thoughts: list[str] = []
        calls = ToolCallAccumulator()
        finish = model = None
        usage: dict | None = None
        headers = None
        try:
            async with self.open_stream("POST", url, json.dumps(payload).encode(),
                                        headers={"accept": "text/event-stream"}) as resp:
                headers = resp.headers
                if resp.status_code >= 400:
                    body = (await resp.aread()).decode("utf-8", "replace")
                    raise error_for_status(resp.status_code, body, resp.headers, name)
                try:
                    async for sse in EventSource(resp).aiter_sse():
                        data = sse.data
                        if data.strip() == "[DONE]":
                            yield ProviderEvent(type="done", response=ChatResponse(
                                text="".join(parts), finish_reason=finish, tool_calls=calls.result(),
                                reasoning="".join(thoughts) or None, reasoning_tokens=reasoning_tokens_of(usage),
                                prompt_tokens=usage.get("prompt_tokens") if usage else None,
                                completion_tokens=usage.get("completion_tokens") if usage else None,
                                cached_tokens=((usage.get("prompt_tokens_details") or {}).get("cached_tokens")
                                               if usage else None),
                                usage_raw=usage, request_id=request_id_of(headers), http_status=resp.status_code,
                                model=model))
                            return
                        if not data.strip():
                            continue
                        chunk = load_json(data, name, resp.status_code, headers)
                        if isinstance(chunk, dict) and chunk.get("error"):
                            err = chunk["error"]
                            msg = err.get("message") if isinstance(err, dict) else str(err)
                            raise ProtocolError(f"{name}: error event in stream: {msg}", status_code=resp.status_code,
                                                provider_message=msg, request_id=request_id_of(headers))
                        if not isinstance(chunk, dict):
                            raise ProtocolError(f"{name}: unexpected stream chunk", status_code=resp.status_code)
                        model = chunk.get("model") or model
                        if chunk.get("usage"):
                            usage = chunk["usage"]
                        for choice in chunk.get("choices") or []:
                            if choice.get("index", 0) != 0:
                                continue
                            delta = choice.get("delta") or {}
                            calls.add(delta.get("tool_calls"))
                            thought = reasoning_of(delta)
                            if thought:
                                thoughts.append(thought)
                            text = delta.get("content") if "delta" in choice else choice.get("text")
                            if text:
                                parts.append(text)
                                yield ProviderEvent(type="delta", text=text)
                            if choice.get("finish_reason"):
                                finish = choice["finish_reason"]
                except SSEError as exc:
                    raise ProtocolError(f"{name}: not an event stream ({exc})", status_code=resp.status_code,
                                        request_id=request_id_of(headers)) from None
        except httpx.HTTPError as exc:
            raise broken_stream(exc, name, parts, headers) from None
        raise IncompleteStreamError(f"{name}: stream ended before [DONE]", partial_text="".join(parts),
                                    request_id=request_id_of(headers))

    async def list_models(self) -> list[str]:
        """GET /models (falls back to the endpoint's static list on 404)."""
        return await self.fetch_models(f"{self.root}/models")

    async def embed(self, model: str, inputs: list[str]) -> list[list[float]]:
        """POST /embeddings: one vector per input."""
        try:
            resp = await self.send("POST", f"{self.root}/embeddings",
                                   json.dumps({"model": model, "input": inputs}).encode())
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.config.name) from None
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, resp.text, resp.headers, self.config.name)
        data = load_json(resp.content, self.config.name, resp.status_code, resp.headers)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProtocolError(f"{self.config.name}: embeddings response has no data", status_code=resp.status_code)
        return [d["embedding"] for d in sorted(data["data"], key=lambda d: d.get("index", 0))]

    # -- the Batch API (Files + Batches): one attempt each; the executor adds limits and retries ----------
    async def _api(self, method: str, url: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response | FastResponse:
        try:
            resp = await self.send(method, url, body, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.config.name) from None
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, resp.text, resp.headers, self.config.name)
        return resp

    async def _api_json(self, method: str, url: str, body: bytes | None = None,
                        headers: dict[str, str] | None = None) -> dict[str, Any]:
        resp = await self._api(method, url, body, headers)
        data = load_json(resp.content, self.config.name, resp.status_code, resp.headers)
        if not isinstance(data, dict) or not isinstance(data.get("id", ""), str):
            raise ProtocolError(f"{self.config.name}: {url.rsplit('/', 2)[-2:]} answer is not an object with an id",
                                status_code=resp.status_code)
        return data

    async def upload_file(self, filename: str, content: bytes, purpose: str = "batch") -> dict[str, Any]:
        """POST /files (multipart): the file object, with its `id`."""
        req = httpx.Request("POST", f"{self.root}/files", data={"purpose": purpose},
                            files={"file": (filename, content, "application/jsonl")})
        return await self._api_json("POST", f"{self.root}/files", req.read(),
                                    {"content-type": req.headers["content-type"]})

    async def create_batch(self, input_file_id: str, endpoint: str, metadata: dict[str, str]) -> dict[str, Any]:
        """POST /batches: the batch object, with its `id` and `status`."""
        body = json.dumps({"input_file_id": input_file_id, "endpoint": endpoint, "completion_window": "24h",
                           "metadata": metadata}).encode()
        return await self._api_json("POST", f"{self.root}/batches", body)

    async def find_batch(self, key: str, value: str, **_: Any) -> dict[str, Any] | None:
        """The newest of the last 100 batches whose metadata[key] is value (GET /batches), or None."""
        resp = await self._api("GET", f"{self.root}/batches?limit=100")
        data = load_json(resp.content, self.config.name, resp.status_code, resp.headers)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProtocolError(f"{self.config.name}: batch list has no data", status_code=resp.status_code)
        for b in data["data"]:
            if isinstance(b, dict) and isinstance(b.get("id"), str) and (b.get("metadata") or {}).get(key) == value:
                return b
        return None

    async def get_batch(self, batch_id: str) -> dict[str, Any]:
        """GET /batches/{id}: status, request counts and the output/error file ids."""
        return await self._api_json("GET", f"{self.root}/batches/{batch_id}")

    async def file_content(self, file_id: str) -> str:
        """GET /files/{id}/content: the file's text (a JSONL output or error file)."""
        return (await self._api("GET", f"{self.root}/files/{file_id}/content")).text
