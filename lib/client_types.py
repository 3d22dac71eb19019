"""The client's public result types and per-endpoint statistics (split out of lib/client.py)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

from .providers.base import EndpointConfig


class RunResult(BaseModel):
    """The outcome of one call; `run` is the Run row (unsaved when record=False)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: Optional[int] = None
    endpoint: str = ""
    model: str = ""
    text: str = ""
    finish_reason: Optional[str] = None
    status: Literal["ok", "error", "incomplete"] = "ok"
    error_kind: Optional[str] = None
    error_message: Optional[str] = None
    http_status: Optional[int] = None
    request_id: Optional[str] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    usage_estimated: bool = False
    cost_usd: Optional[float] = None
    latency_ms: Optional[float] = None
    ttft_ms: Optional[float] = None
    attempts: int = 0
    cached: bool = False
    retryable: bool = False
    run: Any = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == "ok"

    def summary(self) -> str:
        """One line: status, tokens, cost, latency, TTFT (what the CLI prints under the answer)."""
        est = "~" if self.usage_estimated else ""
        tok = (f"{est}{self.prompt_tokens if self.prompt_tokens is not None else '?'} in / "
               f"{est}{self.completion_tokens if self.completion_tokens is not None else '?'} out tokens")
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.6f}"
        lat = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "? ms"
        ttft = f"TTFT {self.ttft_ms:.0f} ms" if self.ttft_ms is not None else "TTFT -"
        head = self.status if self.status == "ok" else f"{self.status} ({self.error_kind}: {self.error_message})"
        extra = f", {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{head} | {tok} | {cost} | {lat} | {ttft}{extra}{' | cached' if self.cached else ''}"


class StreamEvent(BaseModel):
    """A streamed text delta, or the final event carrying the RunResult."""

    type: Literal["delta", "done"]
    text: str = ""
    result: Optional[RunResult] = None


@dataclass
class CallSpec:
    """A call prepared in the caller's thread: everything resolved, nothing sent yet."""

    endpoint: str
    model: str
    config: EndpointConfig
    messages: list[dict]
    params: dict[str, Any]
    variables: dict[str, Any]
    mode: str = "chat"
    source: str = "cli"
    cache: bool = False
    cache_ttl_s: float = 24 * 3600
    deadline_s: float = 60.0
    record: bool = True
    batch_job_id: Optional[int] = None
    compare_id: Optional[str] = None
    prompt_id: Optional[int] = None
    version_id: Optional[int] = None
    prompt_name: Optional[str] = None
    version_number: Optional[int] = None


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
            s = self._by.setdefault(result.endpoint, _EndpointStats())
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
                "p95_latency_ms": lats[min(len(lats) - 1, int(round(0.95 * (len(lats) - 1))))] if lats else None,
                "cache_hit_rate": hits / req if req else None,
            }
        return out
