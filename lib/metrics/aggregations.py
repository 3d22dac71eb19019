"""Metrics over the Run log: SQL aggregations returning small pandas frames.

Counts, sums and rates are computed by the database (GROUP BY); Python only reshapes the
grouped result.  The two dialect differences (time bucketing and percentiles) live in
`bucket_expr()` and `latency()`.

Percentiles are nearest-rank (the smallest value with at least q% of values at or
below it).  SQLite has no percentile function (and its window functions took ~1 s for
40,000 rows here): we read a bounded systematic sample of the runs in range (every k-th
run id, k chosen so about `SAMPLE_MAX` ids are probed by primary key; k = 1 when the range
holds fewer runs, which is exact) and rank each (bucket, model) group in numpy.
PostgreSQL uses `percentile_disc` (exact) up to SAMPLE_MAX runs and the same sample beyond
(an exact sort of a million runs took 1.3 s there).  With m sampled runs in a group, the
rank of the reported p95 is within about +/-1.96*sqrt(0.95*0.05/m) of 0.95 (95% of the
time): +/-0.6 percentile points for m = 5,000, +/-1.9 for m = 500.  Over more than SAMPLE_MAX runs in an
hour-aligned range filtered at most by model and endpoint (the page's default view), `latency()` reads the
hourly latency histograms instead (lib.metrics.hourly: each value within 3.5% of the nearest-rank run's).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, literal, or_, select, true
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.db import engine_of
from lib.models import Label, Prompt, PromptVersion, Run

from . import hourly as metrics_rollup
from .filters import Filters, where_sql

SAMPLE_MAX = 50_000
KEYS = ("bucket", "endpoint", "model", "version_id", "source", "status", "error_kind", "actor")
GRAINS = {"minute": 60, "hour": 3600, "day": 86400}


def grain_for(since: datetime | None, until: datetime | None) -> str:
    """Bucket size for a date range: minutes up to 3 hours, hours up to 7 days, else days."""
    if since is None:
        return "day"
    span = ((until or datetime.now(UTC)) - since).total_seconds()
    return "minute" if span <= 3 * 3600 else "hour" if span <= 7 * 86400 else "day"


def model_label():
    """'endpoint/model' (runs store the bare model name and the endpoint apart)."""
    return case((Run.endpoint == "", Run.model), else_=Run.endpoint + "/" + Run.model).label("model")


def bucket_expr(engine: Engine, grain: str):
    """The one place time bucketing differs: SQLite slices its UTC text, PostgreSQL uses date_trunc."""
    if engine.dialect.name == "sqlite":
        n, suffix = {"minute": (16, ":00"), "hour": (13, ":00:00"), "day": (10, " 00:00:00")}[grain]
        return (func.substr(Run.created_at, 1, n) + suffix).label("bucket")
    return func.date_trunc(grain, Run.created_at).label("bucket")


def frame(engine: Engine, stmt, columns: Iterable[str] | None = None) -> pd.DataFrame:
    with engine.connect() as conn:
        res = conn.execute(stmt)
        rows = res.fetchall()
        cols = list(columns or res.keys())
    return pd.DataFrame([tuple(r) for r in rows], columns=cols)


def to_time(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, format="mixed") if len(s) else pd.Series([], dtype="datetime64[ns, UTC]")


def rollup(engine: Engine | Session | None, f: Filters, grain: str | None = None, keys: Iterable[str] | None = None,
           use_rollup: bool = True, fresh_s: float = 0) -> pd.DataFrame:
    """Counts and sums per (bucket, endpoint, model, prompt, version, source, status, error_kind): one scan.

    Columns: bucket, endpoint, model, prompt_name, version_number, version_id, source, status, error_kind, actor,
    calls, retried, retries, cache_hits, http_429, prompt_tokens, completion_tokens, cost_usd, priced,
    latency_sum, latency_n.  The other run charts are reshapes of this frame.  `keys` (a subset of
    KEYS) groups by fewer dimensions: fewer rows when a chart needs only some (the others come back empty).
    Hour-aligned ranges read the hourly `runrollup` table, refreshed first (see lib.metrics.hourly);
    otherwise `run` is grouped directly.  `df.attrs["as_of"]` says when the figures were true (UTC, ISO text);
    `fresh_s` accepts a rollup refreshed that many seconds ago (see `hourly.refresh`).
    """
    engine = engine_of(engine)
    grain = grain or grain_for(f.since, f.until)
    keys = [k for k in KEYS if keys is None or k in keys or (k == "endpoint" and "model" in keys)]
    as_of = datetime.now(UTC)
    if use_rollup and metrics_rollup.usable(engine, f.since, f.until, grain):
        metrics_rollup.refresh(engine, fresh_s=fresh_s)
        as_of = metrics_rollup.as_of(engine) or as_of
        df = metrics_rollup.query(engine, f, grain, keys)
    else:
        df = _rollup_raw(engine, f, grain, keys)
    df = _shape(engine, df, keys)
    df.attrs["as_of"] = as_of.isoformat()
    return df


def _shape(engine: Engine, df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if df.empty:
        return _empty_rollup()
    for k in KEYS:
        if k not in df:
            df[k] = None
    df["bucket"] = to_time(df["bucket"])
    if "model" in keys:  # runs store the bare model name; two endpoints may serve the same one
        df["model"] = [m if not e else f"{e}/{m}" for e, m in zip(df["endpoint"], df["model"], strict=True)]
    df["version_id"] = df["version_id"].astype("float64")
    df = df.merge(version_names(engine, df["version_id"].dropna().unique().tolist()), on="version_id", how="left")
    for c in ("calls", "retried", "retries", "cache_hits", "http_429", "prompt_tokens", "completion_tokens",
              "priced", "latency_n"):
        df[c] = df[c].fillna(0).astype("int64")
    df["cost_usd"] = df["cost_usd"].astype("float64")
    df["latency_sum"] = df["latency_sum"].astype("float64")
    df["error_kind"] = df["error_kind"].where(df["error_kind"].notna(), None)
    df["actor"] = df["actor"].where(df["actor"].notna() & (df["actor"] != ""), None)
    return df


def _rollup_raw(engine: Engine, f: Filters, grain: str, names: list[str]) -> pd.DataFrame:
    keys = [bucket_expr(engine, grain) if k == "bucket" else getattr(Run, k) for k in names]
    stmt = (select(*keys, func.count().label("calls"),
                   func.sum(case((Run.attempts > 1, 1), else_=0)).label("retried"),
                   func.sum(Run.attempts - 1).label("retries"),
                   func.sum(case((Run.cache_hit == true(), 1), else_=0)).label("cache_hits"),
                   func.sum(case((Run.http_status == 429, 1), else_=0)).label("http_429"),
                   func.coalesce(func.sum(Run.prompt_tokens), 0).label("prompt_tokens"),
                   func.coalesce(func.sum(Run.completion_tokens), 0).label("completion_tokens"),
                   func.sum(Run.cost_usd).label("cost_usd"), func.count(Run.cost_usd).label("priced"),
                   func.sum(Run.latency_ms).label("latency_sum"), func.count(Run.latency_ms).label("latency_n"))
            .where(where_sql(f)).group_by(*keys))
    return frame(engine, _by_date(stmt, f))


def _empty_rollup() -> pd.DataFrame:
    cols = ["bucket", "endpoint", "model", "version_id", "source", "status", "error_kind", "actor", "calls", "retried",
            "retries", "cache_hits", "http_429", "prompt_tokens", "completion_tokens", "cost_usd", "priced",
            "latency_sum", "latency_n", "prompt_name", "version_number", "version"]
    return pd.DataFrame(columns=cols)


def version_names(engine: Engine, ids: list) -> pd.DataFrame:
    """version_id -> prompt_name, version_number, 'name:N' label (a small lookup, not a run scan)."""
    out = pd.DataFrame(columns=["version_id", "prompt_name", "version_number", "version"])
    if not ids:
        return out
    stmt = (select(PromptVersion.id, Prompt.name, PromptVersion.number)
            .join(Prompt, Prompt.id == PromptVersion.prompt_id).where(PromptVersion.id.in_([int(i) for i in ids])))
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    out = pd.DataFrame([tuple(r) for r in rows], columns=["version_id", "prompt_name", "version_number"])
    out["version"] = out["prompt_name"] + ":" + out["version_number"].astype(str)
    out["version_id"] = out["version_id"].astype("float64")
    return out


def latency(engine: Engine | Session | None, f: Filters, grain: str | None = None,
            total: int | None = None, histogram_over: int = SAMPLE_MAX, fresh_s: float = 0) -> pd.DataFrame:
    """p50/p95 latency and TTFT per (bucket, model), with the number of runs ranked (`n`).

    `total` (runs in range, e.g. from `rollup`) picks the method: above `histogram_over` runs, over an
    hour-aligned range filtered at most by model and endpoint, the hourly histograms answer (each value
    within 3.5%, see lib.metrics.hourly); otherwise exact, or a sample (see the module docstring).
    `df.attrs["method"]` says which: exact | sample | histogram.
    """
    engine = engine_of(engine)
    grain = grain or grain_for(f.since, f.until)
    if (total is not None and total > histogram_over and metrics_rollup.usable(engine, f.since, f.until, grain)
            and metrics_rollup.histogram_usable(f)):
        metrics_rollup.refresh(engine, fresh_s=fresh_s)
        df = _latency_frame(metrics_rollup.percentiles(engine, f, grain), 1)
        df.attrs["method"] = "histogram"
        return df
    b = bucket_expr(engine, grain)
    where = and_(where_sql(f), Run.latency_ms.is_not(None))
    if engine.dialect.name != "sqlite":
        # percentile_disc in the database: exact up to SAMPLE_MAX runs, over the id sample beyond (ranked
        # there too, so only one row per group crosses the wire)
        k = 1
        if total is None or total > SAMPLE_MAX:
            where, k = _id_sample(engine, f, where, SAMPLE_MAX)

        def q(col, p):
            return func.percentile_disc(p).within_group(col)
        m = model_label()
        stmt = (select(b, m, q(Run.latency_ms, 0.5).label("p50_ms"), q(Run.latency_ms, 0.95).label("p95_ms"),
                       q(Run.ttft_ms, 0.5).label("ttft_p50_ms"), q(Run.ttft_ms, 0.95).label("ttft_p95_ms"),
                       func.count().label("n"))
                .where(where).group_by(b, m))
        return _latency_frame(frame(engine, stmt), k)
    rows, k = _sample(engine, f, where, [b, model_label(), Run.latency_ms, Run.ttft_ms], total)
    out = []
    groups: dict[tuple, tuple[list, list]] = {}
    for bucket, model, lat, ttft in rows:
        g = groups.setdefault((bucket, model), ([], []))
        g[0].append(lat)
        if ttft is not None:
            g[1].append(ttft)
    for (bucket, model), (lat, ttft) in groups.items():
        out.append((bucket, model, *nearest_rank(lat, (0.5, 0.95)), *nearest_rank(ttft, (0.5, 0.95)), len(lat)))
    df = pd.DataFrame(out, columns=["bucket", "model", "p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms", "n"])
    return _latency_frame(df, k)


def nearest_rank(values: list[float], qs: Iterable[float]) -> list[float | None]:
    """Nearest-rank percentiles (the value at rank ceil(q*n), 1-based) of a list; None when empty."""
    if not values:
        return [None for _ in qs]
    v = np.sort(np.asarray(values, dtype="float64"))
    n = len(v)
    return [float(v[max(1, math.ceil(round(q * n, 9))) - 1]) for q in qs]


def _sample(engine: Engine, f: Filters, where, cols: list, total: int | None,
            size: int | None = None) -> tuple[list, int]:
    """Rows of `cols` for the runs matching `where`: all when `total` <= size, else every k-th id."""
    size = size or SAMPLE_MAX
    k = 1
    if total is None or total > size:
        where, k = _id_sample(engine, f, where, size)
    with engine.connect() as conn:
        return conn.execute(_by_date(select(*cols).where(where).limit(2 * size), f)).fetchall(), k


def _by_date(stmt, f: Filters):
    """Make SQLite scan by date: without ANALYZE statistics it prefers an equality index (model,
    endpoint, source) that spans every day over the date range index."""
    return stmt.with_hint(Run, "INDEXED BY ix_run_created_at", "sqlite") if f.since is not None else stmt


def _id_sample(engine: Engine, f: Filters, where, size: int):
    """Restrict `where` to every k-th run id of the date window, k sized so about `size` ids are probed.

    Runs are written in time order, so the window's ids are (nearly) one contiguous range; the ids are
    generated and looked up by primary key, so the cost is `size` lookups, not a scan of the window.
    """
    with engine.connect() as conn:
        first = select(Run.id).order_by(Run.created_at)
        lo = conn.execute((first.where(Run.created_at >= f.since) if f.since else first).limit(1)).scalar()
        last = select(Run.id).order_by(Run.created_at.desc())
        hi = conn.execute((last.where(Run.created_at < f.until) if f.until else last).limit(1)).scalar()
    if lo is None or hi is None or hi <= lo:
        return where, 1
    k = max(1, -(-(hi - lo + 1) // size))
    if k == 1:
        return where, 1
    if engine.dialect.name == "postgresql":  # a set-returning function: far cheaper there than a recursive CTE
        return and_(where, Run.id.in_(select(func.generate_series(lo, hi, k)))), k
    ids = select(literal(lo).label("i")).cte("sample_ids", recursive=True)
    ids = ids.union_all(select(ids.c.i + k).where(ids.c.i + k <= hi))
    return and_(where, Run.id.in_(select(ids.c.i))), k


def _latency_frame(df: pd.DataFrame, k: int) -> pd.DataFrame:
    if df.empty:
        out = pd.DataFrame(columns=["bucket", "model", "p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms", "n",
                                    "sample_every"])
        out.attrs["method"] = "exact"
        return out
    df["bucket"] = to_time(df["bucket"])
    for c in ("p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms"):
        df[c] = df[c].astype("float64")
    df["sample_every"] = k
    out = df.sort_values(["bucket", "model"]).reset_index(drop=True)
    out.attrs["method"] = "sample" if k > 1 else "exact"
    return out


def percentile_overall(engine: Engine | Session | None, f: Filters, p: float = 0.95,
                       column: str = "latency_ms", sample: int | None = None) -> float | None:
    """One nearest-rank percentile of a run column over the filtered runs.

    PostgreSQL: percentile_disc (exact).  SQLite: the bounded sample of `latency()` (exact up to
    SAMPLE_MAX runs in range).
    """
    return percentiles(engine, f, (p,), column, sample=sample).get(None, [None])[0]


def percentiles(engine: Engine | Session | None, f: Filters, qs: Iterable[float] = (0.5, 0.95),
                column: str = "latency_ms", by_model: bool = False, sample: int | None = None) -> dict:
    """Nearest-rank percentiles of a run column, overall ({None: [...]}) or per model ({model: [...]}).

    `sample` bounds the SQLite sample (default SAMPLE_MAX); 10,000 runs put a p95 within about
    +/-0.4 percentile points.
    """
    engine = engine_of(engine)
    qs = tuple(qs)
    col = getattr(Run, column)
    where = and_(where_sql(f), col.is_not(None))
    keys = [model_label()] if by_model else []
    if engine.dialect.name != "sqlite":
        stmt = select(*keys, *(func.percentile_disc(q).within_group(col) for q in qs)).where(where)
        with engine.connect() as conn:
            rows = conn.execute(stmt.group_by(*keys) if keys else stmt).fetchall()
        return {(r[0] if by_model else None): [None if v is None else float(v) for v in r[len(keys):]]
                for r in rows if not all(v is None for v in r[len(keys):])}
    with engine.connect() as conn:
        total = conn.execute(_by_date(select(func.count()).select_from(Run).where(where), f)).scalar() or 0
    if not total:
        return {}
    rows, _k = _sample(engine, f, where, [model_label() if by_model else literal(None), col], total, sample)
    groups: dict = {}
    for key, v in rows:
        groups.setdefault(key, []).append(v)
    return {key: nearest_rank(vals, qs) for key, vals in groups.items()}


def headline(*, session: Session | None = None, engine: Engine | None = None, hours: float = 24,
             now: datetime | None = None, fresh_s: float = 0) -> dict[str, Any]:
    """Calls, spend, error rate and p95 latency of the last `hours` hours (home page and sidebar).

    Whole hours come from the hourly rollup (p95 from its histograms: within 3.5%); only the two partial hours
    at the ends are read from `run`.
    """
    eng = engine_of(session if session is not None else engine)
    now = now or datetime.now(UTC)
    f = Filters(since=now - timedelta(hours=hours), until=now)
    lo = f.since.replace(minute=0, second=0, microsecond=0)
    lo = lo if lo == f.since else lo + timedelta(hours=1)
    hi = now.replace(minute=0, second=0, microsecond=0)
    calls = priced = errors = 0
    spent = 0.0
    raw = where_sql(f)
    hist = None
    if lo < hi and metrics_rollup.usable(eng, lo, hi, "hour"):
        t = rollup(eng, Filters(since=lo, until=hi), "hour", keys=["status"], fresh_s=fresh_s)
        calls, priced = int(t["calls"].sum()), int(t["priced"].sum())
        errors = int(t.loc[t["status"] == "error", "calls"].sum())
        spent = float(t["cost_usd"].sum(min_count=1) or 0.0) if priced else 0.0
        raw = or_(and_(Run.created_at >= f.since, Run.created_at < lo),
                  and_(Run.created_at >= hi, Run.created_at < now))
        hist = metrics_rollup.histogram(eng, lo, hi)
    stmt = select(func.count().label("calls"), func.sum(Run.cost_usd).label("spend"),
                  func.count(Run.cost_usd).label("priced"),
                  func.sum(case((Run.status == "error", 1), else_=0)).label("errors"))
    with eng.connect() as conn:
        row = conn.execute(stmt.where(raw)).one()
        if hist is not None:  # the edges' latencies join the whole hours' histogram
            for (ms,) in conn.execute(select(Run.latency_ms).where(raw, Run.latency_ms.is_not(None))):
                b = metrics_rollup.bin_of(ms)
                hist[b] = hist.get(b, 0) + 1
    calls += int(row.calls or 0)
    priced += int(row.priced or 0)
    errors += int(row.errors or 0)
    spent += float(row.spend or 0.0)
    spend = spent if (priced or not calls) else None  # None: no call had a price
    if not calls:
        p95 = None
    elif hist is not None:
        p95 = metrics_rollup.rank(hist, 0.95)
    else:
        p95 = percentile_overall(eng, f, 0.95, sample=10_000)
    return {"hours": hours, "calls": calls, "spend_usd": spend,
            "unpriced_calls": calls - priced,
            "error_rate": errors / calls if calls else None,
            "p95_latency_ms": p95}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'24h', '7d', '30m', '2w' or an ISO date/time (naive = UTC) to an aware datetime."""
    now = now or datetime.now(UTC)
    t = text.strip().lower()
    units = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
    if t and t[-1] in units and t[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(t[:-1]) * units[t[-1]])
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"--since {text!r}: expected e.g. 24h, 7d, 30m or an ISO date") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def options(engine: Engine | Session | None) -> dict[str, Any]:
    """Distinct values for the filter widgets (each from an indexed column or a small table)."""
    engine = engine_of(engine)
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, col in (("models", "model"), ("endpoints", "endpoint"), ("sources", "source"), ("actors", "actor")):
            out[name] = _distinct(conn, col)
        out["prompts"] = [r[0] for r in conn.execute(select(Prompt.name).order_by(Prompt.name))]
        out["labels"] = [r[0] for r in conn.execute(select(Label.name).distinct().order_by(Label.name))]
        out["versions"] = [(int(r[0]), f"{r[1]}:{r[2]}") for r in conn.execute(
            select(PromptVersion.id, Prompt.name, PromptVersion.number)
            .join(Prompt, Prompt.id == PromptVersion.prompt_id).order_by(Prompt.name, PromptVersion.number))]
        out["has_runs"] = conn.execute(select(Run.id).limit(1)).first() is not None
    return out


def _distinct(conn, col: str) -> list[str]:
    """Distinct values of an indexed run column by a loose index scan: one index seek per value, not a scan."""
    assert col in {"model", "endpoint", "source", "actor"}  # fixed identifiers only
    sql = (f"WITH RECURSIVE t(v) AS (SELECT min({col}) FROM run UNION ALL "
           f"SELECT (SELECT min({col}) FROM run WHERE {col} > t.v) FROM t WHERE t.v IS NOT NULL) "
           "SELECT v FROM t WHERE v IS NOT NULL AND v <> ''")
    return [r[0] for r in conn.exec_driver_sql(sql)]

