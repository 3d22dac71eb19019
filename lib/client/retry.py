"""The retry policy as data plus pure functions (sleep and clock are injected by the caller).

Retried: 408/409/429/5xx and connection errors, with exponential backoff and jitter;
`retry-after-ms` then `retry-after` honoured up to a cap (a longer wait fails the call
as rate limited instead of blocking) and never below the base delay (`Retry-After: 0` keeps a
backoff).  Never retried: 400/401/403/404/422, protocol errors, incomplete streams.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lib.errors import ProviderError, ProviderTimeoutError  # noqa: F401  (re-exported for callers)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, how long to back off, how long a Retry-After we accept."""

    max_attempts: int = 4  # first try + 3 retries
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.25  # +/- fraction of the backoff
    retry_after_cap_s: float = 60.0  # a server asking for longer fails the call now


DEFAULT_POLICY = RetryPolicy()


def is_retryable(exc: BaseException) -> bool:
    """Whether an error is worth another attempt (the deadline is checked separately)."""
    return isinstance(exc, ProviderError) and bool(exc.retryable)


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Backoff after failed attempt number `attempt` (1-based): base * multiplier^(attempt-1), jittered, capped."""
    raw = min(policy.max_delay_s, policy.base_delay_s * policy.multiplier ** max(0, attempt - 1))
    if policy.jitter:
        r = (rng or random).uniform(-policy.jitter, policy.jitter)
        raw = raw * (1 + r)
    return max(0.0, min(policy.max_delay_s, raw))


def delay_for(policy: RetryPolicy, attempt: int, retry_after: float | None,
              rng: random.Random | None = None) -> float | None:
    """Seconds to wait before the next attempt, or None if the server's Retry-After exceeds the cap."""
    if retry_after is not None:
        if retry_after > policy.retry_after_cap_s:
            return None
        return max(policy.base_delay_s, retry_after)  # a floor: `Retry-After: 0` (or negative) keeps a backoff
    return backoff(policy, attempt, rng)


def next_delay(policy: RetryPolicy, exc: BaseException, attempt: int, remaining_s: float | None,
               rng: random.Random | None = None) -> tuple[float | None, str]:
    """(delay, reason): delay None means stop now; the reason says why (for logs and error text)."""
    if not is_retryable(exc):
        return None, "not retryable"
    if attempt >= policy.max_attempts:
        return None, f"gave up after {attempt} attempts"
    delay = delay_for(policy, attempt, getattr(exc, "retry_after", None), rng)
    if delay is None:
        return None, f"server asked to wait {getattr(exc, 'retry_after', 0):.0f}s (cap {policy.retry_after_cap_s:.0f}s)"
    if remaining_s is not None and delay >= remaining_s:
        return None, f"next attempt would start after the deadline ({delay:.1f}s wait, {remaining_s:.1f}s left)"
    return delay, "retry"
