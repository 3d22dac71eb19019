"""The one call executor: cache -> limiter -> attempt -> retry decision -> deadline -> result.

`Executor` is composed from what it is given (the engine for cache and prices, a provider
lookup, a limiter lookup, the run writer, the retry policy, the clock, the sleep, the RNG
and the stats); it holds no other state.  Streamed and non-streamed calls run the same
loop (`events`): a non-streamed call is an attempt that returns the whole answer, a
streamed one an attempt that yields deltas first (the attempts and the bridges to other
loops and threads are in `streaming`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from lib.credentials import get_secret
from lib.errors import IncompleteStreamError, ProtocolError, ProviderError, ProviderTimeoutError, RateLimitError
from lib.prompts import count_messages, count_text
from lib.runs import CallSpec, RunLogWriter, RunResult, construct, run_row, storable_text

from . import cache as response_cache
from . import pricing
from .limits import EndpointLimiter
from .providers.base import ChatRequest, ChatResponse, EndpointConfig, Provider
from .retry import RetryPolicy, next_delay
from .streaming import Attempt, Call, SyncStream, complete_attempt, deadline_error, stream_attempt
from .types import ClientStats, StreamEvent

__all__ = ["Executor", "scrub"]

log = logging.getLogger(__name__)


class Executor:
    """Runs every model call, streamed or not, and every other provider request, on the client's loop."""

    def __init__(self, *, engine: Any, providers: Callable[[EndpointConfig], Provider],
                 limiters: Callable[[EndpointConfig], EndpointLimiter], runlog: RunLogWriter, policy: RetryPolicy,
                 clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]], rng: random.Random,
                 stats: ClientStats) -> None:
        self.engine, self.providers, self.limiters, self.runlog = engine, providers, limiters, runlog
        self.policy, self.clock, self.sleep, self.rng, self.stats = policy, clock, sleep, rng, stats

    async def complete(self, spec: CallSpec) -> RunResult:
        """One non-streamed call: the loop's final result."""
        result: Any = None
        async for item in self.events(spec, stream=False):
            result = item
        return result

    async def stream(self, spec: CallSpec) -> AsyncIterator[StreamEvent]:
        """One streamed call as StreamEvents: deltas, then `done` with the RunResult."""
        async for item in self.events(spec, stream=True):
            if isinstance(item, str):
                yield StreamEvent(type="delta", text=item)
            else:
                yield StreamEvent(type="done", result=item)

    async def events(self, spec: CallSpec, *, stream: bool) -> AsyncIterator[str | RunResult]:
        """A chat call: cache, then the one attempt loop, then the result: deltas (streamed calls only),
        then exactly one RunResult (recorded as a Run row unless spec.record is False)."""
        key, hit = await self._cached(spec)
        call = Call(self.clock())
        if hit is not None:
            call.resp, call.ok = ChatResponse(**hit), True
            if stream:
                call.ttft = 0.0
                yield call.resp.text
            yield await self._finish(spec, call, cached=True)
            return
        provider = self.providers(spec.config)
        req = construct(ChatRequest, {"model": spec.model, "messages": spec.messages, "params": spec.params,
                                      "mode": spec.mode})
        est = count_messages(spec.messages) if spec.config.tpm else 0
        attempt = stream_attempt(provider, req, self.clock) if stream else complete_attempt(provider, req, self.clock)
        finished = False
        try:
            async for text in self._attempts(spec.config, call, attempt, deadline_s=spec.deadline_s, est=est):
                yield text
            result = await self._finish(spec, call)
            finished = True
            await self._cache_put(key, spec, result, call.resp)
            yield result
        finally:
            if not finished:  # the consumer went away (rerun, closed tab): keep what arrived as incomplete
                call.resp, call.ok = None, False
                call.err = IncompleteStreamError(f"{spec.endpoint}: stream abandoned by the caller",
                                                 partial_text="".join(call.parts))
                result = self._result(spec, call)
                self.stats.record(result)
                if spec.record:
                    self.runlog.write_nowait(result.row)  # type: ignore[arg-type]

    def sync_stream(self, spec: CallSpec, loop: asyncio.AbstractEventLoop) -> SyncStream:
        """One streamed call for a sync caller, run on `loop` (the client's)."""
        return SyncStream(self.stream(spec), wait_s=spec.deadline_s * max(1, self.policy.max_attempts) + 120,
                          loop=loop)

    async def request(self, config: EndpointConfig, fn: Callable[[Provider], Awaitable[Any]], *,
                      deadline_s: float | None = None) -> Any:
        """A provider request that is not a chat call (Batch API files and batches): the endpoint's limiter,
        the retry policy and the deadline, no Run row; returns fn's value or raises the last ProviderError."""
        provider = self.providers(config)

        async def attempt(call: Call, deadline_at: float) -> AsyncIterator[str]:
            async with asyncio.timeout(max(0.0, deadline_at - self.clock())):
                call.value = await fn(provider)
            call.ok = True
            return
            yield  # an async generator, like every attempt

        call = Call(self.clock())
        async for _ in self._attempts(config, call, attempt, deadline_s=float(deadline_s or config.timeout_s or 60)):
            pass
        if not call.ok:
            err = call.err or ProviderError(f"{config.name}: request failed")
            err.message = scrub(err.message, config)  # the reason is stored and shown (a job's pause reason)
            err.body = scrub(err.body, config) if err.body else err.body
            raise err
        return call.value

    async def embed(self, spec: CallSpec, inputs: list[str]) -> tuple[list[list[float]], RunResult]:
        """Embedding vectors and the call's RunResult, through the same loop; one Run row either way
        (a failed call raises its ProviderError once the row is written)."""
        provider = self.providers(spec.config)

        async def attempt(call: Call, deadline_at: float) -> AsyncIterator[str]:
            async with asyncio.timeout(max(0.0, deadline_at - self.clock())):
                call.value = await provider.embed(spec.model, inputs)  # type: ignore[attr-defined]
            call.resp = ChatResponse(prompt_tokens=sum(count_text(t) for t in inputs), completion_tokens=0,
                                     http_status=200)
            call.ok = True
            return
            yield  # an async generator, like every attempt

        call = Call(self.clock())
        async for _ in self._attempts(spec.config, call, attempt, deadline_s=spec.deadline_s):
            pass
        result = await self._finish(spec, call, estimated=True)  # the token count is our estimate
        if not call.ok:
            raise call.err or ProviderError(f"{spec.endpoint}: embeddings failed")
        return call.value, result

    async def _attempts(self, config: EndpointConfig, call: Call, attempt: Attempt, *, deadline_s: float,
                        est: int = 0) -> AsyncIterator[str]:
        """The one loop: limiter slot, attempt, retry decision, deadline; yields what the attempt yields.
        Leaves the outcome on `call` (ok with resp/value, or err)."""
        limiter = self.limiters(config)
        await limiter.acquire(est)  # the deadline starts once the first attempt has a slot
        call.t_start = self.clock()
        deadline_at = call.t_start + deadline_s
        while True:
            if call.attempts and not await self._admit(limiter, est, deadline_at):
                call.err = _no_slot(config.name, deadline_s, call.err, call.attempts)
                return
            call.attempts += 1
            call.err = None
            try:
                if deadline_at - self.clock() <= 0:
                    raise TimeoutError
                async with contextlib.aclosing(attempt(call, deadline_at)) as it:
                    async for text in it:
                        yield text
            except TimeoutError:
                call.err = deadline_error(config.name, deadline_s, call)
            except ProviderError as exc:
                call.err = exc
            except Exception as exc:  # noqa: BLE001 - a provider bug must come back as an error, not raise
                call.err = _unexpected(config.name, exc)
            finally:
                limiter.release()
            if call.ok:
                limiter.on_success()
                limiter.debit_tokens((call.resp.completion_tokens or 0) if call.resp is not None else 0)
                return
            delay = self._retry_delay(limiter, call, deadline_at)
            if delay is None:
                return
            log.info("%s: %s on attempt %d, retrying in %.2fs", config.name, call.err.kind, call.attempts, delay)
            await self.sleep(delay)

    def _retry_delay(self, limiter: EndpointLimiter, call: Call, deadline_at: float) -> float | None:
        """The retry decision after a failed attempt: seconds to wait, or None to stop."""
        err = call.err
        assert err is not None
        if isinstance(err, RateLimitError):
            limiter.on_rate_limited()
        if call.parts:
            return None  # text already went out: never retry a half-shown answer
        if isinstance(err, ProviderTimeoutError) and deadline_at - self.clock() <= 0:
            return None
        delay, why = next_delay(self.policy, err, call.attempts, deadline_at - self.clock(), self.rng)
        if delay is None and (call.attempts > 1 or "server asked" in why):
            err.message = f"{err.message} ({why})"
        return delay

    async def _cached(self, spec: CallSpec) -> tuple[str | None, dict | None]:
        if not spec.cache:
            return None, None
        key = response_cache.cache_key(spec.endpoint, spec.model, spec.messages, spec.params, spec.mode)
        try:
            return key, await asyncio.to_thread(response_cache.get, self.engine, key)
        except Exception as exc:  # noqa: BLE001 - a broken cache must not break calls
            log.warning("response cache read failed: %s", type(exc).__name__)
            return key, None

    async def _cache_put(self, key: str | None, spec: CallSpec, result: RunResult, resp: ChatResponse | None) -> None:
        if key and result.status == "ok" and resp is not None:
            try:
                await asyncio.to_thread(response_cache.put, self.engine, key, resp.model_dump(), spec.cache_ttl_s)
            except Exception as exc:  # noqa: BLE001 - a broken cache must not break calls
                log.warning("response cache write failed: %s", type(exc).__name__)

    async def _admit(self, limiter: EndpointLimiter, est: int, deadline_at: float) -> bool:
        """A retry's wait for a slot (and the RPM/TPM buckets), bounded by what is left of the deadline."""
        try:
            async with asyncio.timeout(max(0.0, deadline_at - self.clock())):
                await limiter.acquire(est)
        except TimeoutError:
            return False
        return True

    async def _finish(self, spec: CallSpec, call: Call, *, cached: bool = False,
                      estimated: bool = False) -> RunResult:
        result = self._result(spec, call, cached, estimated)
        self.stats.record(result)
        if spec.record:
            result.run_id = await self.runlog.write(result.row)  # type: ignore[arg-type]
        return result

    def _result(self, spec: CallSpec, call: Call, cached: bool = False, estimated: bool = False) -> RunResult:
        """The RunResult (usage, cost, scrubbed error) and its Run row, from the one row builder."""
        resp, err = call.resp, call.err
        if resp is not None:
            status, text = "ok", resp.text
        elif isinstance(err, IncompleteStreamError):
            status, text = "incomplete", err.partial_text or "".join(call.parts)
        else:
            status, text = "error", "".join(call.parts)
        text = storable_text(text)
        pt = resp.prompt_tokens if resp is not None else None
        ct = resp.completion_tokens if resp is not None else None
        estimated = estimated and status == "ok"
        if status != "error" and (pt is None or ct is None):
            estimated = True
            pt = pt if pt is not None else count_messages(spec.messages)
            ct = ct if ct is not None else count_text(text) + _tool_call_tokens(resp)
        price = None if status == "error" else pricing.price_for(spec.config, spec.model, self.engine)
        cost = 0.0 if cached and status == "ok" else pricing.cost_usd(price, pt, ct,
                                                                       resp.cached_tokens if resp else None)
        err_msg = storable_text(scrub(_error_text(err), spec.config)) if err is not None else None
        result = RunResult.built(  # typed values already: validation would cost more than the call
            endpoint=spec.endpoint, model=spec.model, text=text,
            tool_calls=resp.tool_calls if resp is not None else None,
            reasoning=storable_text(resp.reasoning) if resp is not None and resp.reasoning else None,
            reasoning_tokens=resp.reasoning_tokens if resp is not None else None,
            thinking_blocks=resp.thinking_blocks if resp is not None else None,
            finish_reason=resp.finish_reason[:50] if resp and resp.finish_reason else None, status=status,
            error_kind=err.kind if err is not None else None, error_message=err_msg,
            http_status=resp.http_status if resp else getattr(err, "status_code", None),
            request_id=resp.request_id if resp else getattr(err, "request_id", None),
            prompt_tokens=pt, completion_tokens=ct, usage_estimated=estimated,
            usage_raw=resp.usage_raw if resp else None, cost_usd=cost,
            latency_ms=round((self.clock() - call.t_start) * 1000, 2),
            ttft_ms=round(call.ttft, 2) if call.ttft is not None else None, attempts=call.attempts, cached=cached,
            retryable=bool(err.retryable) if err is not None else False)
        result._row = run_row(spec, result)
        return result


def _tool_call_tokens(resp: ChatResponse | None) -> int:
    """Estimated output tokens of a reply's tool calls (their arguments are output too)."""
    calls = resp.tool_calls if resp is not None else None
    return sum(count_text(str((c.get("function") or {}).get("arguments", ""))) for c in calls or [])


def _no_slot(endpoint: str, deadline_s: float, last: ProviderError | None, attempts: int) -> ProviderError:
    """The deadline ran out while a retry waited for the endpoint's concurrency or rate limit."""
    why = f" after attempt {attempts} failed ({last.kind})" if last is not None else ""
    return ProviderTimeoutError(f"{endpoint}: no complete answer within the {deadline_s:g}s deadline: "
                                f"no free slot for a retry{why}")


def _unexpected(endpoint: str, exc: Exception) -> ProviderError:
    log.warning("%s: unexpected %s from the provider", endpoint, type(exc).__name__)
    return ProtocolError(f"{endpoint}: unexpected {type(exc).__name__}: {str(exc)[:300]}")


def _error_text(err: ProviderError) -> str:
    """The stored error text: the message, plus the start of the raw body for a protocol error."""
    text = str(err)[:2000]
    if isinstance(err, ProtocolError) and err.body:
        text += f"; body: {err.body[:1000]}"
    return text


MIN_KEY_PREFIX = 8


def scrub(text: str, cfg: EndpointConfig) -> str:
    """Mask the endpoint's key, or any prefix of it of 8+ characters, where a provider echoed it in an error
    (OpenAI echoes 'sk-abc1***wxyz'): the one scrubber for every error text stored or shown."""
    key = get_secret(cfg.api_key_env) if cfg.api_key_env else None
    if not key or len(key) < MIN_KEY_PREFIX or not text:
        return text
    if key in text:
        text = text.replace(key, "***")
    for n in range(len(key) - 1, MIN_KEY_PREFIX - 1, -1):
        if key[:n] in text:
            text = text.replace(key[:n], "***")
            break
    return text


