"""The hourly run rollup: SQLite's fast path for the metrics page.

SQLite has no hash aggregation: a GROUP BY over a million runs sorts them all (3-4 s
here).  `refresh()` folds new runs into `runrollup` (one row per hour x endpoint x model x
version x source x status x error kind) incrementally: it remembers the last run id it
folded in.  That watermark is safe on SQLite because it has one writer at a time, so run
ids become visible in id order.  It assumes the rolled-up columns of a run are final when
the run is inserted (the client writes a run once, when the call ends); `rebuild()`
recomputes everything (after deleting or editing runs).  Ratings and scores are not rolled
up (they change after the run).  PostgreSQL (where sequence ids can commit out of order)
aggregates `run` directly; its hash aggregation is fast enough.
"""

from __future__ import annotations

import time
from datetime import datetime

import pandas as pd
from sqlalchemy import and_, func, select, text, true
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from lib.models import Label, Prompt, PromptVersion, RunRollup

STATE_KEY = "rollup_run_id"
_KEYS = ("hour", "endpoint", "model", "version_id", "source", "status", "error_kind")
_SUMS = ("calls", "retried", "retries", "cache_hits", "http_429", "prompt_tokens", "completion_tokens", "cost_usd",
         "priced", "latency_sum", "latency_n")
_FOLD = f"""
INSERT INTO runrollup ({", ".join(_KEYS + _SUMS)})
SELECT substr(created_at, 1, 13) || ':00:00.000000', endpoint, model, coalesce(version_id, 0), source, status,
       coalesce(error_kind, ''), count(*), sum(attempts > 1), sum(attempts - 1), sum(cache_hit),
       coalesce(sum(http_status = 429), 0),
       coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0),
       count(cost_usd), coalesce(sum(latency_ms), 0), count(latency_ms)
FROM run WHERE id > :lo AND id <= :hi
GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT ({", ".join(_KEYS)}) DO UPDATE SET {", ".join(f"{c} = {c} + excluded.{c}" for c in _SUMS)}
"""


def usable(engine: Engine, since: datetime | None, until: datetime | None, grain: str) -> bool:
    """Whether a query can be answered from the rollup: SQLite, hourly or daily buckets, hour-aligned range."""
    def aligned(d: datetime | None) -> bool:
        return d is None or (d.minute == 0 and d.second == 0 and d.microsecond == 0)

    return engine.dialect.name == "sqlite" and grain in ("hour", "day") and aligned(since) and aligned(until)


def refresh(engine: Engine, attempts: int = 3) -> int:
    """Fold runs newer than the watermark into the rollup; returns how many runs were folded (SQLite only)."""
    if engine.dialect.name != "sqlite":
        return 0
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                lo = conn.execute(text("SELECT value FROM metricsstate WHERE key = :k"), {"k": STATE_KEY}).scalar()
                hi = conn.execute(text("SELECT max(id) FROM run")).scalar() or 0
                if lo is None:
                    conn.execute(text("INSERT OR IGNORE INTO metricsstate (key, value) VALUES (:k, 0)"),
                                 {"k": STATE_KEY})
                    lo = 0
                if hi <= lo:
                    return 0
                # The conditional update takes the write lock; if another process moved the mark first, stop.
                moved = conn.execute(text("UPDATE metricsstate SET value = :hi WHERE key = :k AND value = :lo"),
                                     {"hi": hi, "lo": lo, "k": STATE_KEY}).rowcount
                if moved != 1:
                    return 0
                conn.execute(text(_FOLD), {"lo": lo, "hi": hi})
                return hi - lo
        except OperationalError:  # busy snapshot / locked: another writer; try again shortly
            if attempt == attempts - 1:
                return 0
            time.sleep(0.05 * (attempt + 1))
    return 0


def rebuild(engine: Engine) -> int:
    """Recompute the whole rollup from `run` (after runs were deleted or edited); returns runs folded."""
    if engine.dialect.name != "sqlite":
        return 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM runrollup"))
        conn.execute(text("DELETE FROM metricsstate WHERE key = :k"), {"k": STATE_KEY})
    return refresh(engine)


def query(engine: Engine, f, grain: str, names: list[str]) -> pd.DataFrame:
    """The metrics rollup frame (same columns as the raw path) from the hourly table."""
    r = RunRollup
    bucket = r.hour if grain == "hour" else (func.substr(r.hour, 1, 10) + " 00:00:00")
    conds = []
    if f.since is not None:
        conds.append(r.hour >= f.since)
    if f.until is not None:
        conds.append(r.hour < f.until)
    if f.prompts:
        conds.append(r.version_id.in_(select(PromptVersion.id).join(Prompt, Prompt.id == PromptVersion.prompt_id)
                                      .where(Prompt.name.in_(f.prompts))))
    if f.version_ids:
        conds.append(r.version_id.in_(f.version_ids))
    if f.labels:
        conds.append(r.version_id.in_(select(Label.version_id).where(Label.name.in_(f.labels))))
    for col, vals in ((r.model, f.models), (r.endpoint, f.endpoints), (r.source, f.sources)):
        if vals:
            conds.append(col.in_(vals))
    keys = [bucket.label("bucket") if k == "bucket" else getattr(r, k) for k in names]
    sums = [func.sum(getattr(r, c)).label(c) for c in _SUMS]
    stmt = select(*keys, *sums).where(and_(true(), *conds)).group_by(*keys)
    with engine.connect() as conn:
        res = conn.execute(stmt)
        df = pd.DataFrame([tuple(x) for x in res.fetchall()], columns=list(res.keys()))
    if df.empty:
        return df
    if "version_id" in df:
        df["version_id"] = df["version_id"].where(df["version_id"] != 0, None).astype("float64")
    if "error_kind" in df:
        df["error_kind"] = df["error_kind"].where(df["error_kind"] != "", None)
    df["cost_usd"] = df["cost_usd"].astype("float64").where(df["priced"] > 0, None)
    return df
