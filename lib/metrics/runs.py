"""Run charts' data: reshapes of the grouped `metrics.rollup` frame, plus the batch rate query.

The rollup is already aggregated by the database (one row per bucket x endpoint x model x
version x source x status x error kind), so these functions only re-group a small frame.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.db import engine_of
from lib.models import BatchJob, Endpoint, Run

from .aggregations import GRAINS, bucket_expr, frame, percentiles, rollup, to_time
from .filters import Filters

BY = {"model": "model", "version": "version", "endpoint": "endpoint", "source": "source"}


def totals(roll: pd.DataFrame) -> dict:
    """Totals over the filtered runs: calls, errors, tokens, spend (over priced calls), cost per 1,000 calls."""
    calls = int(roll["calls"].sum()) if len(roll) else 0
    priced = int(roll["priced"].sum()) if len(roll) else 0
    # No known price at all is unknown spend (None), not $0; no calls at all is $0.
    spend = float(roll["cost_usd"].sum(min_count=1)) if priced else (None if calls else 0.0)
    errors = int(roll.loc[roll["status"] == "error", "calls"].sum()) if len(roll) else 0
    lat_n = int(roll["latency_n"].sum()) if len(roll) else 0
    return {"calls": calls, "errors": errors, "error_rate": errors / calls if calls else None,
            "prompt_tokens": int(roll["prompt_tokens"].sum()) if calls else 0,
            "completion_tokens": int(roll["completion_tokens"].sum()) if calls else 0,
            "spend_usd": spend, "unpriced_calls": calls - priced,
            "cost_per_1k_calls": spend / priced * 1000 if priced and spend is not None else None,
            "retry_rate": int(roll["retried"].sum()) / calls if calls else None,
            "cache_hit_rate": int(roll["cache_hits"].sum()) / calls if calls else None,
            "mean_latency_ms": float(roll["latency_sum"].sum()) / lat_n if lat_n else None}


def _key(roll: pd.DataFrame, by: str) -> pd.Series:
    col = BY[by]
    s = roll[col] if col in roll else pd.Series([None] * len(roll), index=roll.index)
    return s.astype(object).where(s.notna(), "(none)").astype(str)


def tokens_cost(roll: pd.DataFrame, by: str = "model") -> pd.DataFrame:
    """Per (bucket, key): calls, prompt/completion tokens, cost (NULL prices excluded) and priced calls."""
    cols = ["bucket", by, "calls", "prompt_tokens", "completion_tokens", "tokens", "cost_usd", "priced"]
    if roll.empty:
        return pd.DataFrame(columns=cols)
    d = roll.assign(**{by: _key(roll, by)})
    g = d.groupby(["bucket", by], as_index=False).agg(
        calls=("calls", "sum"), prompt_tokens=("prompt_tokens", "sum"), completion_tokens=("completion_tokens", "sum"),
        cost_usd=("cost_usd", lambda s: s.sum(min_count=1)), priced=("priced", "sum"))
    g["tokens"] = g["prompt_tokens"] + g["completion_tokens"]
    return g[cols].sort_values(["bucket", by]).reset_index(drop=True)


def cost_table(roll: pd.DataFrame, by: str = "model") -> pd.DataFrame:
    """Per key totals with cost per 1,000 calls (over priced calls) and the count of unpriced calls."""
    cols = [by, "calls", "tokens", "cost_usd", "cost_per_1k_calls", "unpriced_calls"]
    if roll.empty:
        return pd.DataFrame(columns=cols)
    d = roll.assign(**{by: _key(roll, by), "tokens": roll["prompt_tokens"] + roll["completion_tokens"]})
    g = d.groupby(by, as_index=False).agg(calls=("calls", "sum"), tokens=("tokens", "sum"),
                                          cost_usd=("cost_usd", lambda s: s.sum(min_count=1)),
                                          priced=("priced", "sum"))
    g["cost_per_1k_calls"] = (g["cost_usd"] / g["priced"].where(g["priced"] > 0) * 1000).astype("float64")
    g["unpriced_calls"] = g["calls"] - g["priced"]
    return g[cols].sort_values("cost_usd", ascending=False, na_position="last").reset_index(drop=True)


def errors(roll: pd.DataFrame) -> pd.DataFrame:
    """Per (endpoint, error_kind): errors, the endpoint's calls and the share of its calls (429s as rate_limited)."""
    cols = ["endpoint", "error_kind", "errors", "calls", "error_rate", "http_429"]
    if roll.empty:
        return pd.DataFrame(columns=cols)
    per_ep = roll.groupby("endpoint", as_index=False).agg(calls=("calls", "sum"))
    e = roll[roll["status"] == "error"].assign(error_kind=lambda d: d["error_kind"].fillna("unknown"))
    if e.empty:
        return pd.DataFrame(columns=cols)
    g = e.groupby(["endpoint", "error_kind"], as_index=False).agg(errors=("calls", "sum"), http_429=("http_429", "sum"))
    g = g.merge(per_ep, on="endpoint")
    g["error_rate"] = g["errors"] / g["calls"]
    return g[cols].sort_values(["endpoint", "errors"], ascending=[True, False]).reset_index(drop=True)


def reliability(roll: pd.DataFrame, by: str = "endpoint") -> pd.DataFrame:
    """Per (bucket, key): error rate, 429s, retry rate (runs with >1 attempt), extra attempts, cache hit rate."""
    cols = ["bucket", by, "calls", "errors", "error_rate", "http_429", "retry_rate", "retries", "cache_hit_rate"]
    if roll.empty:
        return pd.DataFrame(columns=cols)
    d = roll.assign(**{by: _key(roll, by), "errors": roll["calls"].where(roll["status"] == "error", 0)})
    g = d.groupby(["bucket", by], as_index=False).agg(
        calls=("calls", "sum"), errors=("errors", "sum"), http_429=("http_429", "sum"), retried=("retried", "sum"),
        retries=("retries", "sum"), cache_hits=("cache_hits", "sum"))
    g["error_rate"] = g["errors"] / g["calls"]
    g["retry_rate"] = g["retried"] / g["calls"]
    g["cache_hit_rate"] = g["cache_hits"] / g["calls"]
    return g[cols].sort_values(["bucket", by]).reset_index(drop=True)


def throughput(roll: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Calls per bucket and calls per minute (bucket calls / bucket minutes) per source."""
    cols = ["bucket", "source", "calls", "calls_per_min"]
    if roll.empty:
        return pd.DataFrame(columns=cols)
    g = roll.groupby(["bucket", "source"], as_index=False).agg(calls=("calls", "sum"))
    g["calls_per_min"] = g["calls"] / (GRAINS[grain] / 60)
    return g[cols].sort_values(["bucket", "source"]).reset_index(drop=True)


def running_batches(engine: Engine | Session | None) -> pd.DataFrame:
    """Batch jobs currently running (id, name, rpm, tpm)."""
    engine = engine_of(engine)
    stmt = (select(BatchJob.id, BatchJob.name, BatchJob.rpm, BatchJob.tpm, BatchJob.models)
            .where(BatchJob.status == "running").order_by(BatchJob.id.desc()).limit(20))
    return frame(engine, stmt, ["id", "name", "rpm", "tpm", "models"])


def batch_rate(engine: Engine | Session | None, job_id: int, minutes: int = 30,
               now: datetime | None = None) -> pd.DataFrame:
    """Requests and tokens per minute of one batch job per endpoint, next to the endpoint's and job's limits."""
    engine = engine_of(engine)
    now = now or datetime.now(UTC)
    b = bucket_expr(engine, "minute")
    stmt = (select(b, Run.endpoint, func.count().label("requests"),
                   func.coalesce(func.sum(Run.prompt_tokens + func.coalesce(Run.completion_tokens, 0)), 0)
                   .label("tokens"))
            .where(Run.batch_job_id == job_id, Run.created_at >= now - timedelta(minutes=minutes))
            .group_by(b, Run.endpoint))
    df = frame(engine, stmt)
    cols = ["bucket", "endpoint", "requests", "tokens", "rpm_limit", "tpm_limit"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["bucket"] = to_time(df["bucket"])
    with engine.connect() as conn:
        lim = {r[0]: (r[1], r[2]) for r in conn.execute(select(Endpoint.name, Endpoint.rpm, Endpoint.tpm))}
        job = conn.execute(select(BatchJob.rpm, BatchJob.tpm).where(BatchJob.id == job_id)).first()

    def _min(*xs):
        xs = [x for x in xs if x]
        return min(xs) if xs else None

    df["rpm_limit"] = [_min(lim.get(e, (None, None))[0], job[0] if job else None) for e in df["endpoint"]]
    df["tpm_limit"] = [_min(lim.get(e, (None, None))[1], job[1] if job else None) for e in df["endpoint"]]
    df["tokens"] = df["tokens"].astype("int64")
    return df[cols].sort_values(["bucket", "endpoint"]).reset_index(drop=True)


def summary(engine: Engine | Session | None, since: datetime, until: datetime | None = None) -> dict:
    """The CLI's figures: headline totals since `since` and one line per model (calls, errors, spend, p50/p95)."""
    engine = engine_of(engine)
    f = Filters(since=since, until=until)
    roll = rollup(engine, f, grain="day", keys=["model", "endpoint", "status"])
    t = totals(roll)
    overall = percentiles(engine, f).get(None, [None, None])
    per_model = percentiles(engine, f, by_model=True)
    t.update(since=since, until=until, p50_latency_ms=overall[0], p95_latency_ms=overall[1])
    models = []
    if len(roll):
        for model, g in roll.groupby("model", sort=True):
            mt = totals(g)
            p50, p95 = per_model.get(model, [None, None])
            models.append({"model": model, "calls": mt["calls"], "errors": mt["errors"],
                           "error_rate": mt["error_rate"], "spend_usd": mt["spend_usd"],
                           "unpriced_calls": mt["unpriced_calls"], "p50_latency_ms": p50, "p95_latency_ms": p95})
    t["models"] = models
    return t
