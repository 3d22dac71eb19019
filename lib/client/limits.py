"""Per-endpoint limits shared by every caller in the process: concurrency, RPM and TPM.

Concurrency adapts (AIMD): a 429 halves the effective limit, successes add it back
gradually up to the configured maximum.  RPM/TPM are token buckets.  All of it runs
on the client's event loop (not thread-safe by design: one loop owns it).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` units per second, holding at most `capacity` (the allowed burst)."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.capacity, self.clock = rate, max(1.0, capacity), clock
        self.tokens = self.capacity
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, amount: float) -> float:
        """Seconds until `amount` can be taken (0 = now); a request larger than capacity waits for a full bucket."""
        self._refill()
        need = min(amount, self.capacity)
        return 0.0 if self.tokens >= need else (need - self.tokens) / self.rate

    def take(self, amount: float) -> None:
        """Take `amount` (may go negative: a debt paid back by refill)."""
        self._refill()
        self.tokens -= amount


class EndpointLimiter:
    """Admission control for one endpoint: adaptive concurrency, then RPM and TPM buckets."""

    def __init__(self, max_concurrency: int, rpm: int | None = None, tpm: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_concurrency = max(1, int(max_concurrency or 1))
        self.cap = float(self.max_concurrency)
        self.in_flight = 0
        self.clock = clock
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self.rpm_value, self.tpm_value = rpm, tpm
        self.rpm = TokenBucket(rpm / 60.0, rpm / 60.0, clock) if rpm else None
        self.tpm = TokenBucket(tpm / 60.0, tpm / 6.0, clock) if tpm else None
        self._bucket_lock: asyncio.Lock | None = None
        self._last_cut = -1e9
        self.rate_limited = 0

    def reconfigure(self, max_concurrency: int, rpm: int | None, tpm: int | None) -> None:
        """Apply new limits from an edited endpoint without dropping in-flight counts."""
        self.max_concurrency = max(1, int(max_concurrency or 1))
        self.cap = min(self.cap, float(self.max_concurrency)) if self.cap else float(self.max_concurrency)
        self.rpm_value, self.tpm_value = rpm, tpm
        self.rpm = TokenBucket(rpm / 60.0, rpm / 60.0, self.clock) if rpm else None
        self.tpm = TokenBucket(tpm / 60.0, tpm / 6.0, self.clock) if tpm else None
        self._wake()

    @property
    def limit(self) -> int:
        """The effective concurrency right now."""
        return max(1, int(self.cap))

    def _wake(self) -> None:
        # Waking grants the slot (in_flight is counted here), so a woken waiter cannot lose it.
        while self.in_flight < self.limit and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    async def acquire(self, tokens: int = 0) -> None:
        """Wait (FIFO) for a concurrency slot, then for the RPM/TPM buckets."""
        if self.in_flight >= self.limit or self._waiters:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self.release()  # granted just before the cancel: hand it on
                else:
                    try:
                        self._waiters.remove(fut)
                    except ValueError:
                        pass
                raise
        else:
            self.in_flight += 1
        try:
            if self.rpm or self.tpm:
                await self._buckets(tokens)
        except BaseException:
            self.release()
            raise

    async def _buckets(self, tokens: int) -> None:
        if self._bucket_lock is None:
            self._bucket_lock = asyncio.Lock()
        async with self._bucket_lock:  # FIFO: callers are admitted in arrival order
            while True:
                wait = max(self.rpm.wait_time(1) if self.rpm else 0.0,
                           self.tpm.wait_time(tokens) if self.tpm and tokens else 0.0)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.rpm:
                self.rpm.take(1)
            if self.tpm and tokens:
                self.tpm.take(tokens)

    def release(self) -> None:
        """Give a slot back."""
        self.in_flight = max(0, self.in_flight - 1)
        self._wake()

    def on_success(self) -> None:
        """Additive increase: +1 to the limit per `limit` successes."""
        if self.cap < self.max_concurrency:
            self.cap = min(float(self.max_concurrency), self.cap + 1.0 / max(1.0, self.cap))
            self._wake()

    def on_rate_limited(self) -> None:
        """Multiplicative decrease (at most once a second, so one burst of 429s is one cut)."""
        self.rate_limited += 1
        now = self.clock()
        if now - self._last_cut >= 1.0:
            self.cap = max(1.0, self.cap / 2.0)
            self._last_cut = now

    def debit_tokens(self, tokens: int) -> None:
        """Charge completion tokens to the TPM bucket after a call."""
        if self.tpm and tokens:
            self.tpm.take(tokens)
