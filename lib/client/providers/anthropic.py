"""Anthropic Messages API provider: system prompt split out, `x-api-key`, `anthropic-version`,
streaming events through `message_stop`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from lib.errors import IncompleteStreamError, ProtocolError

from . import anthropic_format as fmt
from .anthropic_batch import MessageBatches
from .base import (
    ChatRequest,
    ChatResponse,
    Provider,
    ProviderEvent,
    broken_stream,
    checked,
    error_for_status,
    load_json,
    request_id_of,
    transport_error,
)

DEFAULT_BASE = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = fmt.DEFAULT_MAX_TOKENS


def body_for(request: ChatRequest, stream: bool) -> dict[str, Any]:
    """The /v1/messages body for a request (see `anthropic_format`)."""
    return fmt.body_for(request.model, request.messages, request.params, stream)


def _structured(request: ChatRequest) -> bool:
    return fmt.structured_schema(request.params.get("response_format")) is not None


def _usage(usage: dict | None) -> dict[str, Any]:
    usage = usage or {}
    return {"prompt_tokens": usage.get("input_tokens"), "completion_tokens": usage.get("output_tokens"),
            "cached_tokens": usage.get("cache_read_input_tokens")}


class AnthropicProvider(MessageBatches, Provider):
    """POST /v1/messages, with or without streaming; Message Batches for provider-batch mode."""

    default_base_url = DEFAULT_BASE
    price_provider = "anthropic"

    def base_headers(self) -> dict[str, str]:
        """`anthropic-version` plus the endpoint's extra headers."""
        h = super().base_headers()
        h["anthropic-version"] = str(self.config.options.get("anthropic_version", DEFAULT_VERSION))
        return h

    def auth_headers(self) -> dict[str, str]:
        """`x-api-key`, read per request."""
        key = self.api_key()
        return {"x-api-key": key} if key else {}

    @property
    def root(self) -> str:
        """The base URL without a trailing /v1 (paths add it)."""
        url = (self.config.base_url or DEFAULT_BASE).rstrip("/")
        return url.removesuffix("/v1")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One non-streaming message."""
        name = self.config.name
        try:
            resp = await self.send("POST", f"{self.root}/v1/messages", json.dumps(body_for(request, False)).encode())
            raw = resp.content
        except httpx.HTTPError as exc:
            raise transport_error(exc, name) from None
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, raw.decode("utf-8", "replace"), resp.headers, name)
        data = load_json(raw, name, resp.status_code, resp.headers)
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise ProtocolError(f"{name}: response has no content", status_code=resp.status_code,
                                body=raw.decode("utf-8", "replace"), request_id=request_id_of(resp.headers))
        usage = data.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise ProtocolError(f"{name}: unexpected reply shape: usage is not an object",
                                status_code=resp.status_code, body=raw.decode("utf-8", "replace")[:2000])
        text, reasoning, calls = fmt.read_blocks(data["content"], _structured(request))
        return checked(ChatResponse.model_construct(
            text=text, reasoning=reasoning, tool_calls=calls, thinking_blocks=fmt.signed_blocks(data["content"]),
            finish_reason=data.get("stop_reason"), usage_raw=usage,
            request_id=request_id_of(resp.headers), http_status=resp.status_code, model=data.get("model"),
            **_usage(usage)), name, resp.status_code, raw, resp.headers)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ProviderEvent]:  # type: ignore[override]
        """Text deltas until `message_stop`; anything short of it is an incomplete stream."""
        name = self.config.name
        parts: list[str] = []
        blocks: dict[int, dict[str, Any]] = {}  # index -> block being assembled (thinking, tool_use)
        json_parts: dict[int, list[str]] = {}
        usage: dict[str, Any] = {}
        finish = model = None
        headers = None
        structured = _structured(request)
        try:
            async with self.open_stream("POST", f"{self.root}/v1/messages",
                                        json.dumps(body_for(request, True)).encode(),
                                        headers={"accept": "text/event-stream"}) as resp:
                headers = resp.headers
                if resp.status_code >= 400:
                    body = (await resp.aread()).decode("utf-8", "replace")
                    raise error_for_status(resp.status_code, body, resp.headers, name)
                try:
                    async for sse in EventSource(resp).aiter_sse():
                        if not sse.data.strip():
                            continue
                        ev = load_json(sse.data, name, resp.status_code, headers)
                        etype = sse.event if sse.event and sse.event != "message" else ev.get("type")
                        if etype == "error" or ev.get("type") == "error":
                            err = ev.get("error") or {}
                            msg = err.get("message") if isinstance(err, dict) else str(err)
                            raise ProtocolError(f"{name}: error event in stream: {msg}", status_code=resp.status_code,
                                                provider_message=msg, request_id=request_id_of(headers))
                        if etype == "message_start":
                            msg = ev.get("message") or {}
                            model = msg.get("model")
                            usage.update(msg.get("usage") or {})
                        elif etype == "content_block_start":
                            block = dict(ev.get("content_block") or {})
                            if block.get("type") in ("thinking", "redacted_thinking", "tool_use"):
                                blocks[int(ev.get("index", 0))] = block
                        elif etype == "content_block_delta":
                            delta = ev.get("delta") or {}
                            idx = int(ev.get("index", 0))
                            if delta.get("type") == "text_delta" and delta.get("text"):
                                parts.append(delta["text"])
                                yield ProviderEvent(type="delta", text=delta["text"])
                            elif delta.get("type") == "thinking_delta" and idx in blocks:
                                blocks[idx]["thinking"] = blocks[idx].get("thinking", "") + str(
                                    delta.get("thinking", ""))
                            elif delta.get("type") == "signature_delta" and idx in blocks:
                                blocks[idx]["signature"] = blocks[idx].get("signature", "") + str(
                                    delta.get("signature", ""))
                            elif delta.get("type") == "input_json_delta" and idx in blocks:
                                json_parts.setdefault(idx, []).append(str(delta.get("partial_json", "")))
                        elif etype == "message_delta":
                            finish = (ev.get("delta") or {}).get("stop_reason") or finish
                            usage.update(ev.get("usage") or {})
                        elif etype == "message_stop":
                            done = [_finished(b, json_parts.get(i)) for i, b in sorted(blocks.items())]
                            text, reasoning, calls = fmt.read_blocks(
                                [{"type": "text", "text": "".join(parts)}, *done], structured)
                            yield ProviderEvent(type="done", response=ChatResponse(
                                text=text, reasoning=reasoning, tool_calls=calls,
                                thinking_blocks=fmt.signed_blocks(done),
                                finish_reason=finish, usage_raw=usage or None,
                                request_id=request_id_of(headers), http_status=resp.status_code, model=model,
                                **_usage(usage)))
                            return
                except SSEError as exc:
                    raise ProtocolError(f"{name}: not an event stream ({exc})", status_code=resp.status_code) from None
        except httpx.HTTPError as exc:
            raise broken_stream(exc, name, parts, headers) from None
        raise IncompleteStreamError(f"{name}: stream ended before message_stop", partial_text="".join(parts),
                                    request_id=request_id_of(headers))

    async def list_models(self) -> list[str]:
        """GET /v1/models (static list on 404)."""
        return await self.fetch_models(f"{self.root}/v1/models")


def _finished(block: dict[str, Any], json_parts: list[str] | None) -> dict[str, Any]:
    """A streamed tool_use block with its input assembled from the `input_json_delta` fragments."""
    if block.get("type") == "tool_use" and json_parts is not None:
        raw = "".join(json_parts)
        try:
            block = {**block, "input": json.loads(raw) if raw.strip() else {}}
        except ValueError:
            raise ProtocolError(f"tool call {block.get('name')!r}: streamed arguments are not JSON") from None
    return block
