"""Stream assembly: one call's mutable state, the chat attempts (the whole answer, or deltas with
TTFT, the response-size cap and the deadline), and the one bridge from the client's loop to a
caller elsewhere (`pump`, and `SyncStream` for sync threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from lib.errors import IncompleteStreamError, ProviderError, ProviderTimeoutError
from lib.runs import RunResult
from lib.settings import get_settings

from .providers.base import ChatRequest, ChatResponse, Provider
from .types import StreamEvent

END = object()


class Call:
    """The mutable state of one call while it runs (attempts, streamed parts, answer or last error)."""

    __slots__ = ("attempts", "err", "ok", "parts", "resp", "t_start", "ttft", "value")

    def __init__(self, t_start: float) -> None:
        self.attempts = 0
        self.t_start = t_start
        self.parts: list[str] = []
        self.ttft: float | None = None
        self.resp: ChatResponse | None = None
        self.err: ProviderError | None = None
        self.ok = False
        self.value: Any = None


# One attempt: an async generator that yields text deltas (streamed calls only) and, on success,
# sets `call.ok` (and `call.resp` or `call.value`); it raises a ProviderError (or TimeoutError) on failure.
Attempt = Callable[[Call, float], AsyncIterator[str]]


def complete_attempt(provider: Provider, req: ChatRequest, clock: Callable[[], float]) -> Attempt:
    """A non-streamed chat attempt: the whole answer within what is left of the deadline."""

    async def attempt(call: Call, deadline_at: float) -> AsyncIterator[str]:
        async with asyncio.timeout(deadline_at - clock()):
            call.resp = await provider.complete(req)
        call.ok = True
        return
        yield  # an async generator, like every attempt

    return attempt


def stream_attempt(provider: Provider, req: ChatRequest, clock: Callable[[], float]) -> Attempt:
    """A streamed chat attempt: yields deltas; ok on the provider's final event."""

    async def attempt(call: Call, deadline_at: float) -> AsyncIterator[str]:
        agen = provider.stream(req)
        cap, size = get_settings().max_response_bytes, sum(len(p) for p in call.parts)
        try:
            while True:
                remaining = deadline_at - clock()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    ev = await asyncio.wait_for(agen.__anext__(), remaining)
                except StopAsyncIteration:
                    raise IncompleteStreamError(f"{provider.config.name}: stream ended without a final event",
                                                partial_text="".join(call.parts)) from None
                if ev.type != "delta":
                    call.resp, call.ok = ev.response, True
                    return
                if call.ttft is None:
                    call.ttft = (clock() - call.t_start) * 1000
                size += len(ev.text.encode("utf-8", "surrogatepass"))
                if size > cap:
                    raise IncompleteStreamError(
                        f"{provider.config.name}: streamed reply too large: over {cap:,} bytes "
                        "(WORKBENCH_MAX_RESPONSE_BYTES)", partial_text="".join(call.parts))
                call.parts.append(ev.text)
                yield ev.text
        finally:
            with contextlib.suppress(Exception):  # the stream may already be broken
                await agen.aclose()

    return attempt


def deadline_error(endpoint: str, deadline_s: float, call: Call) -> ProviderError:
    """The deadline cut the attempt: a stream that had begun is incomplete with its text, else a timeout."""
    if call.parts:
        return IncompleteStreamError(f"{endpoint}: stream cut by the {deadline_s:g}s deadline "
                                     f"after {len(call.parts)} chunks", partial_text="".join(call.parts))
    return ProviderTimeoutError(f"{endpoint}: no complete answer within the {deadline_s:g}s deadline "
                                f"(attempt {call.attempts})")


async def pump(agen: AsyncIterator[Any], put: Callable[[Any], None]) -> None:
    """Drive an async iterator on the client's loop, handing each item, then any exception, then END to `put`."""
    try:
        async for item in agen:
            put(item)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
        put(exc)
    finally:
        put(END)


class SyncStream:
    """A stream for sync callers: iterate for text chunks; `.result` is the RunResult afterwards.

    Several can run at once from different threads (the Compare page); closing one early
    (or a Streamlit rerun interrupting the iteration) records the run as incomplete.
    """

    def __init__(self, events: AsyncIterator[StreamEvent], *, wait_s: float, loop: asyncio.AbstractEventLoop) -> None:
        self._q: queue.Queue = queue.Queue()
        self.result: RunResult | None = None
        self._wait_s = wait_s  # the longest a call may take (deadline x attempts) plus a margin
        self._done = threading.Event()

        def put(item: Any) -> None:
            self._q.put(item)
            if item is END:
                self._done.set()

        self._cf = asyncio.run_coroutine_threadsafe(pump(events, put), loop)

    def events(self) -> Iterator[StreamEvent]:
        """Every StreamEvent (deltas, then `done`)."""
        try:
            while True:
                item = self._q.get(timeout=self._wait_s)
                if item is END:
                    return
                if isinstance(item, BaseException):
                    if isinstance(item, asyncio.CancelledError):
                        return
                    raise item
                if item.type == "done":
                    self.result = item.result
                yield item
        finally:
            self.close()

    def __iter__(self) -> Iterator[str]:
        for ev in self.events():
            if ev.type == "delta" and ev.text:
                yield ev.text

    def text(self) -> str:
        """Consume the stream and return the full text."""
        return "".join(self)

    def close(self, wait_s: float = 2.0) -> None:
        """Stop the stream if it is still running (waits briefly so the run is recorded as incomplete)."""
        if not self._cf.done():
            self._cf.cancel()
        self._done.wait(wait_s)

    def __enter__(self) -> SyncStream:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
