"""The client's public result types and per-endpoint statistics (split out of lib/client.py)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from lib.models import Run

from .providers.base import EndpointConfig


class RunResult(BaseModel):
    """The outcome of one call.

    `run` is the Run row (unsaved, id None, when record=False), built on first access;
    `row` is the same as a plain dict of column values (no id), cheap for bulk inserts.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: int | None = None
    endpoint: str = ""
    model: str = ""
    text: str = ""
    finish_reason: str | None = None
    status: Literal["ok", "error", "incomplete"] = "ok"
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    attempts: int = 0
    cached: bool = False
    retryable: bool = False
    _row: dict[str, Any] | None = PrivateAttr(default=None)
    _run: Any = PrivateAttr(default=None)

    @property
    def row(self) -> dict[str, Any] | None:
        """The Run row's column values (without id)."""
        return self._row

    @property
    def run(self) -> Any:
        """The Run row (a `lib.models.Run`; its id is set when the client recorded it)."""
        if self._run is None and self._row is not None:
            self._run = Run(id=self.run_id, **self._row)
        return self._run

    @run.setter
    def run(self, value: Any) -> None:
        self._run = value

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
    result: RunResult | None = None


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
    batch_job_id: int | None = None
    compare_id: str | None = None
    prompt_id: int | None = None
    version_id: int | None = None
    prompt_name: str | None = None
    version_number: int | None = None
    actor: str | None = None  # the acting Identity's label (token:NAME for the gateway)


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
                "p95_latency_ms": lats[min(len(lats) - 1, round(0.95 * (len(lats) - 1)))] if lats else None,
                "cache_hit_rate": hits / req if req else None,
            }
        return out
