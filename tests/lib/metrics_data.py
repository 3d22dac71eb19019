"""Literal test data for the metrics tests: plain inserts of the models (no other helper's code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

import lib.models as m

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)
HOUR = NOW.replace(minute=0)


def prompt_with_versions(s: Session, name: str = "greet", n: int = 2) -> list[m.PromptVersion]:
    """A prompt with `n` versions."""
    p = m.Prompt(name=name)
    s.add(p)
    s.flush()
    vs = [m.PromptVersion(prompt_id=p.id, number=i, messages=[{"role": "user", "content": f"v{i} {{{{x}}}}"}],
                          content_hash=f"{name}{i}") for i in range(1, n + 1)]
    s.add_all(vs)
    s.flush()
    return vs


def run(v: m.PromptVersion | None, **kw) -> m.Run:
    """A Run row with sensible defaults (overridable)."""
    base = {"created_at": HOUR + timedelta(minutes=5), "source": "playground", "endpoint": "openai",
            "model": "gpt-x", "status": "ok", "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.001,
            "latency_ms": 100.0, "ttft_ms": 50.0, "attempts": 1}
    if v is not None:
        base.update(prompt_id=v.prompt_id, version_id=v.id, prompt_name="greet", version_number=v.number)
    base.update(kw)
    return m.Run(**base)


def standard(s: Session) -> list[m.PromptVersion]:
    """Model A: 100 runs, latency 1..100 ms; model B: 4 runs 10..40 ms, one error (429, retried twice)."""
    vs = prompt_with_versions(s)
    for i in range(1, 101):
        s.add(run(vs[0], model="A", latency_ms=float(i), ttft_ms=float(i) / 2, cost_usd=0.01,
                  created_at=HOUR + timedelta(seconds=i), cache_hit=(i % 10 == 0)))
    for i, lat in enumerate([10.0, 20.0, 30.0, 40.0]):
        err = i == 3
        s.add(run(vs[1], model="B", endpoint="anthropic", latency_ms=lat, ttft_ms=None if err else lat / 2,
                  cost_usd=None if i == 2 else (None if err else 0.5), status="error" if err else "ok",
                  error_kind="rate_limited" if err else None, http_status=429 if err else 200,
                  attempts=3 if err else 1, prompt_tokens=None if err else 100,
                  completion_tokens=None if err else 50, source="batch"))
    # outside the default range: 10 days ago
    s.add(run(vs[0], model="A", created_at=NOW - timedelta(days=10), latency_ms=9999.0))
    s.commit()
    return vs
