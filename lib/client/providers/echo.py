"""The built-in offline `echo` provider: answers with the messages it received.

Deterministic; usage comes from the token estimate; options `latency_ms` and
`failure_rate` (with `seed`) simulate a slow or flaky provider.  Streams in chunks.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

from lib.errors import ServerError
from lib.prompts import count_messages, count_text

from .base import ChatRequest, ChatResponse, EndpointConfig, Provider, ProviderEvent

CHUNK_CHARS = 16


def echo_text(messages: list[dict]) -> str:
    """The echo reply: one line per message, `[role] content`."""
    lines = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        lines.append(f"[{m.get('role', 'user')}] {content if content is not None else ''}")
    return "\n".join(lines)


class EchoProvider(Provider):
    """Offline, deterministic provider with one model, `echo`."""

    has_embeddings = True  # a bag-of-letters vector, so embedding evaluators run offline
    free = True

    def __init__(self, config: EndpointConfig, **_: object) -> None:
        super().__init__(config)
        opts = config.options or {}
        self.latency_s = float(opts.get("latency_ms", 0) or 0) / 1000.0
        self.failure_rate = float(opts.get("failure_rate", 0) or 0)
        self._rng = random.Random(opts.get("seed", 0))

    def _maybe_fail(self) -> None:
        if self.failure_rate and self._rng.random() < self.failure_rate:
            raise ServerError(f"{self.config.name}: simulated failure (failure_rate={self.failure_rate})",
                              status_code=503, provider_message="simulated failure")

    def _response(self, request: ChatRequest) -> ChatResponse:
        text = echo_text(request.messages)
        finish = "stop"
        max_tokens = request.params.get("max_tokens")
        completion = count_text(text)
        if isinstance(max_tokens, int) and max_tokens >= 0 and completion > max_tokens:
            text = text[: max_tokens * 4]
            completion, finish = count_text(text), "length"
        return ChatResponse(text=text, finish_reason=finish, prompt_tokens=count_messages(request.messages),
                            completion_tokens=completion, http_status=200, model="echo")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Echo the messages after the simulated latency."""
        self._maybe_fail()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return self._response(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ProviderEvent]:  # type: ignore[override]
        """Echo in chunks of a few characters, spreading the latency over them."""
        self._maybe_fail()
        resp = self._response(request)
        chunks = [resp.text[i:i + CHUNK_CHARS] for i in range(0, len(resp.text), CHUNK_CHARS)] or [""]
        pause = self.latency_s / len(chunks) if self.latency_s else 0.0
        for chunk in chunks:
            if pause:
                await asyncio.sleep(pause)
            else:
                await asyncio.sleep(0)
            yield ProviderEvent(type="delta", text=chunk)
        yield ProviderEvent(type="done", response=resp)

    async def embed(self, model: str, inputs: list[str]) -> list[list[float]]:
        """A deterministic bag-of-letters vector per input (27 counts: a-z and the rest)."""
        out = []
        for text in inputs:
            vec = [0.0] * 27
            for ch in text.casefold():
                vec[ord(ch) - 97 if "a" <= ch <= "z" else 26] += 1.0
            out.append(vec)
        return out

    async def list_models(self) -> list[str]:
        """Always `["echo"]`."""
        return ["echo"]
