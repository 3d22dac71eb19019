"""The client's stream event and per-endpoint statistics (the call types live in `lib.runs`)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from lib.runs import RunResult


class StreamEvent(BaseModel):
    """A streamed text delta, or the final event carrying the RunResult."""

    type: Literal["delta", "done"]
    text: str = ""
    result: RunResult | None = None


@dataclass
class _EndpointStats:
    requests: int = 0
    ok: int = 0
    errors: int = 0
    incomplete: int = 0
    cache_hits: int = 0
    attempts: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=5000))


class ClientStats:
    """Requests, success rate, mean and p95 latency and cache hit rate, per endpoint (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by: dict[str, _EndpointStats] = {}

    def record(self, result: RunResult) -> None:
        """Count one finished call."""
        with self._lock:
            s = self._by.get(result.endpoint)
            if s is None:  # not setdefault: its default (with a 5,000-slot deque) would be built on every call
                s = self._by[result.endpoint] = _EndpointStats()
            s.requests += 1
            s.attempts += result.attempts
            if result.status == "ok":
                s.ok += 1
            elif result.status == "incomplete":
                s.incomplete += 1
            else:
                s.errors += 1
            if result.cached:
                s.cache_hits += 1
            if result.latency_ms is not None and not result.cached:
                s.latencies.append(result.latency_ms)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """{endpoint: {requests, success_rate, mean_latency_ms, p95_latency_ms, cache_hit_rate, ...}}."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            items = [(k, s.requests, s.ok, s.errors, s.incomplete, s.cache_hits, s.attempts, sorted(s.latencies))
                     for k, s in self._by.items()]
        for name, req, ok, err, inc, hits, att, lats in items:
            out[name] = {
                "requests": req, "ok": ok, "errors": err, "incomplete": inc, "attempts": att,
                "success_rate": ok / req if req else None,
                "mean_latency_ms": sum(lats) / len(lats) if lats else None,
                "p95_latency_ms": lats[min(len(lats) - 1, round(0.95 * (len(lats) - 1)))] if lats else None,
                "cache_hit_rate": hits / req if req else None,
            }
        return out
