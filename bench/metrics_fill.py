"""Bulk fill of synthetic runs for the metrics benchmark (executemany on a raw DB-API connection)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy.engine import Engine

MODELS = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku", "anthropic/claude-sonnet-4",
          "local/llama-3-8b", "echo/echo"]
SOURCES = ["playground", "compare", "batch", "cli", "api"]
ERROR_KINDS = ["rate_limited", "timeout", "server", "bad_request", "auth"]
RUN_COLS = ("created_at", "source", "prompt_id", "version_id", "prompt_name", "version_number", "endpoint", "model",
            "params", "variables", "messages", "output", "status", "error_kind", "http_status", "prompt_tokens",
            "completion_tokens", "usage_estimated", "cost_usd", "latency_ms", "ttft_ms", "attempts", "cache_hit",
            "rating", "batch_job_id")


def _ph(engine: Engine) -> str:
    return "?" if engine.dialect.name == "sqlite" else "%s"


def _insert(engine: Engine, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
    """executemany on the raw connection (PostgreSQL: psycopg's pipelined executemany)."""
    ph = _ph(engine)
    sql = f'INSERT INTO {table} ({", ".join(cols)}) VALUES ({", ".join([ph] * len(cols))})'
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.executemany(sql, rows)
        raw.commit()
    finally:
        raw.close()


def _ts(engine: Engine, dt: datetime):
    # SQLite stores UTC text; PostgreSQL takes the aware datetime.
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else dt


def fill(engine: Engine, n_runs: int, days: int = 30, seed: int = 7, chunk: int = 100_000) -> dict:
    """Insert prompts, versions and `n_runs` runs spread over the last `days` days; returns id maps."""
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc)
    prompts = [f"prompt-{i}" for i in range(5)]
    _insert(engine, "prompt", ("name", "description", "tags", "archived", "created_at", "updated_at"),
            [(p, "", "[]", False, _ts(engine, now), _ts(engine, now)) for p in prompts])
    with engine.connect() as conn:
        pids = dict(conn.exec_driver_sql("SELECT name, id FROM prompt").fetchall())
    vrows = [(pids[p], n, json.dumps([{"role": "user", "content": f"{p} v{n} {{{{q}}}}"}]), "mustache", "[]",
              None, "{}", "{}", "", "", f"h{p}{n}", _ts(engine, now)) for p in prompts for n in range(1, 5)]
    _insert(engine, "promptversion", ("prompt_id", "number", "messages", "template_format", "variables", "model",
                                      "params", "model_overrides", "commit_message", "author", "content_hash",
                                      "created_at"), vrows)
    with engine.connect() as conn:
        vers = conn.exec_driver_sql(
            "SELECT v.id, v.prompt_id, p.name, v.number FROM promptversion v JOIN prompt p ON p.id = v.prompt_id"
        ).fetchall()
    sqlite = engine.dialect.name == "sqlite"
    span = days * 86400.0
    done = 0
    while done < n_runs:
        n = min(chunk, n_runs - done)
        offs = np.sort(rng.uniform(0, span, n))[::-1]
        mi = rng.integers(0, len(MODELS), n)
        vi = rng.integers(0, len(vers), n)
        si = rng.integers(0, len(SOURCES), n)
        err = rng.random(n) < 0.05
        ek = rng.integers(0, len(ERROR_KINDS), n)
        lat = np.exp(rng.normal(6.5, 0.6, n))
        ttft = lat * rng.uniform(0.1, 0.4, n)
        pt = rng.integers(50, 2000, n)
        ct = rng.integers(10, 800, n)
        cost = (pt * 0.15 + ct * 0.6) / 1e6
        unknown = rng.random(n) < 0.03
        att = 1 + (rng.random(n) < 0.04) + (rng.random(n) < 0.01)
        cache = rng.random(n) < 0.1
        rating = rng.choice([None, None, None, None, 1, -1], n)
        rows = []
        for j in range(n):
            v = vers[vi[j]]
            model = MODELS[mi[j]]
            e = bool(err[j])
            kind = ERROR_KINDS[ek[j]] if e else None
            created = now - timedelta(seconds=float(offs[j]))
            rows.append((
                created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created,
                SOURCES[si[j]], v[1], v[0], v[2], v[3], model.split("/")[0], model, "{}", "{}", "[]", "",
                "error" if e else "ok", kind, (429 if kind == "rate_limited" else 500 if e else 200),
                None if e else int(pt[j]), None if e else int(ct[j]), False,
                None if (e or unknown[j]) else float(cost[j]), float(lat[j]), None if e else float(ttft[j]),
                int(att[j]), bool(cache[j]), rating[j], None))
        _insert(engine, "run", RUN_COLS, rows)
        done += n
    return {"prompts": pids, "versions": vers}
