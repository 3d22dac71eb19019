"""How one call runs on the client's loop: cache, limits, attempts with retries, the deadline,
usage, cost, stats and the run-log row (the execution half of `lib.client.ModelClient`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from lib.credentials import get_secret
from lib.errors import IncompleteStreamError, ProtocolError, ProviderError, ProviderTimeoutError, RateLimitError
from lib.models import utcnow
from lib.prompts import count_messages, count_text

from . import cache as response_cache
from . import pricing
from .providers.base import ChatRequest, ChatResponse, EndpointConfig
from .retry import next_delay
from .types import CallSpec, RunResult, StreamEvent

if TYPE_CHECKING:
    from .model_client import ModelClient

log = logging.getLogger(__name__)
END = object()


class CallExecution:
    """Mixin of ModelClient: everything that runs on its loop for one call."""

    async def _cached(self, spec: CallSpec) -> tuple[str | None, dict | None]:
        if not spec.cache:
            return None, None
        key = response_cache.cache_key(spec.endpoint, spec.model, spec.messages, spec.params, spec.mode)
        try:
            return key, await asyncio.to_thread(response_cache.get, self.engine, key)
        except Exception as exc:  # noqa: BLE001 - a broken cache must not break calls
            log.warning("response cache read failed: %s", type(exc).__name__)
            return key, None

    async def _execute(self, spec: CallSpec) -> RunResult:
        key, hit = await self._cached(spec)
        if hit is not None:
            return await self._finish(spec, ChatResponse(**hit), None, attempts=0, t_start=self._clock(),
                                      ttft=None, cached=True)
        provider, limiter = self._provider(spec.config), self._limiter(spec.config)
        req = ChatRequest.model_construct(model=spec.model, messages=spec.messages, params=spec.params,
                                          mode=spec.mode)
        est = count_messages(spec.messages) if spec.config.tpm else 0
        attempts = 0
        err: ProviderError | None = None
        await limiter.acquire(est)  # the deadline starts once the first attempt has a slot
        t_start = self._clock()
        deadline_at = t_start + spec.deadline_s
        while True:
            if attempts and not await self._admit(limiter, est, deadline_at):
                err = _no_slot(spec, err, attempts)
                break
            attempts += 1
            err = None
            resp: ChatResponse | None = None
            try:
                remaining = deadline_at - self._clock()
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    resp = await provider.complete(req)
            except TimeoutError:
                err = ProviderTimeoutError(f"{spec.endpoint}: no complete answer within the "
                                           f"{spec.deadline_s:g}s deadline (attempt {attempts})")
            except ProviderError as exc:
                err = exc
            except Exception as exc:  # noqa: BLE001 - a provider bug must come back as an error, not raise
                err = _unexpected(spec, exc)
            finally:
                limiter.release()
            if resp is not None:
                limiter.on_success()
                limiter.debit_tokens(resp.completion_tokens or 0)
                break
            assert err is not None
            if isinstance(err, RateLimitError):
                limiter.on_rate_limited()
            if isinstance(err, ProviderTimeoutError) and deadline_at - self._clock() <= 0:
                break
            delay, why = next_delay(self.policy, err, attempts, deadline_at - self._clock(), self._rng)
            if delay is None:
                if attempts > 1 or "server asked" in why:
                    err.message = f"{err.message} ({why})"
                break
            log.info("%s: %s on attempt %d, retrying in %.2fs", spec.endpoint, err.kind, attempts, delay)
            await self._sleep(delay)
        result = await self._finish(spec, resp, err, attempts=attempts, t_start=t_start, ttft=None)
        if key and result.status == "ok" and resp is not None:
            try:
                await asyncio.to_thread(response_cache.put, self.engine, key, resp.model_dump(), spec.cache_ttl_s)
            except Exception as exc:  # noqa: BLE001
                log.warning("response cache write failed: %s", type(exc).__name__)
        return result

    async def _stream(self, spec: CallSpec) -> AsyncIterator[StreamEvent]:
        key, hit = await self._cached(spec)
        if hit is not None:
            resp = ChatResponse(**hit)
            t0 = self._clock()
            yield StreamEvent(type="delta", text=resp.text)
            yield StreamEvent(type="done", result=await self._finish(spec, resp, None, attempts=0, t_start=t0,
                                                                      ttft=0.0, cached=True))
            return
        provider, limiter = self._provider(spec.config), self._limiter(spec.config)
        req = ChatRequest.model_construct(model=spec.model, messages=spec.messages, params=spec.params,
                                          mode=spec.mode)
        est = count_messages(spec.messages) if spec.config.tpm else 0
        attempts, deadline_at, t_start = 0, None, self._clock()
        parts: list[str] = []
        ttft: float | None = None
        resp: ChatResponse | None = None
        err: ProviderError | None = None
        finished = False
        try:
            await limiter.acquire(est)  # the deadline starts once the first attempt has a slot
            t_start = self._clock()
            deadline_at = t_start + spec.deadline_s
            while True:
                if attempts and not await self._admit(limiter, est, deadline_at):
                    err = _no_slot(spec, err, attempts)
                    break
                attempts += 1
                err = None
                agen = provider.stream(req)
                try:
                    while True:
                        remaining = deadline_at - self._clock()
                        if remaining <= 0:
                            raise TimeoutError
                        try:
                            ev = await asyncio.wait_for(agen.__anext__(), remaining)
                        except StopAsyncIteration:
                            raise IncompleteStreamError(f"{spec.endpoint}: stream ended without a final event",
                                                        partial_text="".join(parts)) from None
                        if ev.type == "delta":
                            if ttft is None:
                                ttft = (self._clock() - t_start) * 1000
                            parts.append(ev.text)
                            yield StreamEvent(type="delta", text=ev.text)
                        else:
                            resp = ev.response
                            break
                except TimeoutError:
                    err = ProviderTimeoutError(f"{spec.endpoint}: stream not finished within the "
                                               f"{spec.deadline_s:g}s deadline (attempt {attempts})")
                except ProviderError as exc:
                    err = exc
                except Exception as exc:  # noqa: BLE001
                    err = _unexpected(spec, exc)
                finally:
                    limiter.release()
                    with contextlib.suppress(Exception):  # the stream is already broken
                        await agen.aclose()
                if resp is not None:
                    limiter.on_success()
                    limiter.debit_tokens(resp.completion_tokens or 0)
                    break
                if isinstance(err, RateLimitError):
                    limiter.on_rate_limited()
                if parts or (isinstance(err, ProviderTimeoutError) and deadline_at - self._clock() <= 0):
                    break  # text already went out: never retry a half-shown answer
                delay, _why = next_delay(self.policy, err, attempts, deadline_at - self._clock(), self._rng)
                if delay is None:
                    break
                await self._sleep(delay)
            result = await self._finish(spec, resp, err, attempts=attempts, t_start=t_start, ttft=ttft,
                                        partial="".join(parts))
            finished = True
            if key and result.status == "ok" and resp is not None:
                try:
                    await asyncio.to_thread(response_cache.put, self.engine, key, resp.model_dump(),
                                            spec.cache_ttl_s)
                except Exception as exc:  # noqa: BLE001
                    log.warning("response cache write failed: %s", type(exc).__name__)
            yield StreamEvent(type="done", result=result)
        finally:
            if not finished:  # the consumer went away (rerun, closed tab): keep what arrived as incomplete
                abandoned = IncompleteStreamError(f"{spec.endpoint}: stream abandoned by the caller",
                                                  partial_text="".join(parts))
                result = self._build(spec, None, abandoned, attempts, t_start, ttft, "".join(parts))
                self.stats.record(result)
                if spec.record:
                    self.runlog.write_nowait(result.row)  # type: ignore[arg-type]

    async def _admit(self, limiter, est: int, deadline_at: float) -> bool:
        """A retry's wait for a slot (and the RPM/TPM buckets), bounded by what is left of the deadline."""
        try:
            async with asyncio.timeout(max(0.0, deadline_at - self._clock())):
                await limiter.acquire(est)
        except TimeoutError:
            return False
        return True

    async def _finish(self, spec: CallSpec, resp: ChatResponse | None, err: ProviderError | None, *,
                      attempts: int, t_start: float, ttft: float | None, cached: bool = False,
                      partial: str = "") -> RunResult:
        result = self._build(spec, resp, err, attempts, t_start, ttft, partial, cached)
        self.stats.record(result)
        if spec.record:
            result.run_id = await self.runlog.write(result.row)  # type: ignore[arg-type]
        return result

    def _build(self, spec: CallSpec, resp: ChatResponse | None, err: ProviderError | None, attempts: int,
               t_start: float, ttft: float | None, partial: str = "", cached: bool = False) -> RunResult:
        latency = (self._clock() - t_start) * 1000
        if resp is not None:
            status, text = "ok", resp.text
        elif isinstance(err, IncompleteStreamError):
            status, text = "incomplete", err.partial_text or partial
        else:
            status, text = "error", partial
        text = _no_nul(text)
        pt = resp.prompt_tokens if resp is not None else None
        ct = resp.completion_tokens if resp is not None else None
        estimated = False
        if status != "error" and (pt is None or ct is None):
            estimated = True
            pt = pt if pt is not None else count_messages(spec.messages)
            ct = ct if ct is not None else count_text(text)
        price = None if status == "error" else pricing.price_for(spec.config, spec.model, self.engine)
        cost = 0.0 if cached and status == "ok" else pricing.cost_usd(price, pt, ct,
                                                                       resp.cached_tokens if resp else None)
        err_msg = _no_nul(scrub(str(err)[:2000], spec.config)) if err is not None else None
        row = {"created_at": utcnow(), "source": spec.source, "prompt_id": spec.prompt_id,
               "version_id": spec.version_id, "prompt_name": spec.prompt_name,
               "version_number": spec.version_number, "endpoint": spec.endpoint, "model": spec.model,
               "params": spec.params, "variables": spec.variables, "messages": spec.messages, "output": text,
               "finish_reason": resp.finish_reason[:50] if resp and resp.finish_reason else None, "status": status,
               "error_kind": err.kind if err is not None else None, "error_message": err_msg,
               "http_status": resp.http_status if resp else getattr(err, "status_code", None),
               "request_id": resp.request_id if resp else getattr(err, "request_id", None),
               "prompt_tokens": pt, "completion_tokens": ct, "usage_estimated": estimated,
               "usage_raw": resp.usage_raw if resp else None, "cost_usd": cost, "latency_ms": round(latency, 2),
               "ttft_ms": round(ttft, 2) if ttft is not None else None, "attempts": attempts, "cache_hit": cached,
               "rating": None, "note": None, "compare_id": spec.compare_id, "batch_job_id": spec.batch_job_id,
               "actor": spec.actor}
        result = RunResult(run_id=None, endpoint=spec.endpoint, model=spec.model, text=text,
                           finish_reason=row["finish_reason"], status=status, error_kind=row["error_kind"],
                           error_message=err_msg, http_status=row["http_status"], request_id=row["request_id"],
                           prompt_tokens=pt, completion_tokens=ct, usage_estimated=estimated, cost_usd=cost,
                           latency_ms=row["latency_ms"], ttft_ms=row["ttft_ms"], attempts=attempts, cached=cached,
                           retryable=bool(err.retryable) if err is not None else False)
        result._row = row
        return result


def _no_nul(text: str) -> str:
    """NUL made U+FFFD: PostgreSQL text columns refuse NUL, and the Run row must always be written."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _no_slot(spec: CallSpec, last: ProviderError | None, attempts: int) -> ProviderError:
    """The deadline ran out while a retry waited for the endpoint's concurrency or rate limit."""
    why = f" after attempt {attempts} failed ({last.kind})" if last is not None else ""
    return ProviderTimeoutError(f"{spec.endpoint}: no complete answer within the {spec.deadline_s:g}s deadline: "
                                f"no free slot for a retry{why}")


def _unexpected(spec: CallSpec, exc: Exception) -> ProviderError:
    log.warning("%s: unexpected %s from the provider", spec.endpoint, type(exc).__name__)
    return ProtocolError(f"{spec.endpoint}: unexpected {type(exc).__name__}: {str(exc)[:300]}")


def scrub(text: str, cfg: EndpointConfig) -> str:
    """Mask the endpoint's key if a provider echoed it back in an error (some do, partially)."""
    key = get_secret(cfg.api_key_env) if cfg.api_key_env else None
    return text.replace(key, "***") if key and len(key) >= 8 and key in text else text


class SyncStream:
    """A stream for sync callers: iterate for text chunks; `.result` is the RunResult afterwards.

    Several can run at once from different threads (the Compare page); closing one early
    (or a Streamlit rerun interrupting the iteration) records the run as incomplete.
    """

    def __init__(self, client: ModelClient, spec: CallSpec) -> None:
        self._q: queue.Queue = queue.Queue()
        self.result: RunResult | None = None
        self._spec = spec
        self._wait_s = spec.deadline_s * max(1, client.policy.max_attempts) + 120

        self._done = threading.Event()

        async def pump() -> None:
            try:
                async for ev in client._stream(spec):
                    self._q.put(ev)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer thread
                self._q.put(exc)
            finally:
                self._q.put(END)
                self._done.set()

        self._cf = asyncio.run_coroutine_threadsafe(pump(), client.loop)

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
