"""The hourly run rollup: the metrics page's fast path on SQLite and PostgreSQL.

`runrollup` holds one row per hour x endpoint x model x version x source x status x error kind x
actor; `latencyrollup` one row per hour x endpoint x model x latency bin (log bins, 10 per doubling)
counting the runs whose latency, and whose TTFT, fall in it, so percentiles over a week of runs read a
few thousand rows, not the runs (`percentiles()`: the middle of the bin holding the nearest-rank run,
within 3.5% of that run's value).  `refresh()` keeps it exact by recomputing whole hours from `run` (never by adding to
them), so recomputing an hour twice is harmless.  Which hours: those of every run whose id is
above the watermark `W` (a late commit with an old `created_at` gets a new id, so its old hour
is recomputed).  `W` trails the newest commits: it only moves up to an id below which every run
that will ever be visible already is.

- SQLite has one writer at a time: `refresh()` takes the write lock first, so `max(id)` is safe.
- PostgreSQL hands out ids from a sequence and transactions commit in any order, so a run with a
  smaller id can appear after a larger one.  The safe mark is the sequence value `Q` read before
  looking for transactions that hold a write lock on `run` (`pg_locks`): with none, every id up
  to `Q` is committed (an INSERT locks the table before it draws its id).  With some, the mark
  moves only to the sequence value recorded by an earlier refresh (`rollupmark`) before the
  oldest such transaction began.  A run committed later than that is still above the mark.

Each refresh records when it ran (`as_of()`), which the page shows as "figures as of HH:MM".
It assumes the rolled-up columns of a run are final when it is committed (the client writes a
run once, when the call ends); `rebuild()` recomputes everything after runs were deleted or
edited.  Ratings and scores are not rolled up (they change after the run).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select, text, true
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from lib.models import Label, LatencyRollup, Prompt, PromptVersion, RunRollup

STATE_KEY = "rollup_run_id"
AS_OF_KEY = "rollup_at"  # epoch seconds of the last refresh
MARKS_KEPT = 500
_KEYS = ("hour", "endpoint", "model", "version_id", "source", "status", "error_kind", "actor")
_SUMS = ("calls", "retried", "retries", "cache_hits", "http_429", "prompt_tokens", "completion_tokens", "cost_usd",
         "priced", "latency_sum", "latency_n")
_HOUR = {"sqlite": "substr(created_at, 1, 13) || ':00:00.000000'",
         "postgresql": "date_trunc('hour', created_at, 'UTC')"}
_AGG = """
INSERT INTO runrollup ({cols})
SELECT {hour}, endpoint, model, coalesce(version_id, 0), source, status, coalesce(error_kind, ''),
       coalesce(actor, ''), count(*), sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END), sum(attempts - 1),
       sum(CASE WHEN cache_hit THEN 1 ELSE 0 END), sum(CASE WHEN http_status = 429 THEN 1 ELSE 0 END),
       coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0),
       count(cost_usd), coalesce(sum(latency_ms), 0), count(latency_ms)
FROM run {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
BINS_PER_OCTAVE = 10  # bin width 2**(1/10) = 7.2%: a value read back as the bin's middle is within 3.5%
_BIN = "floor({n} * ln(CASE WHEN {c} < 0.01 THEN 0.01 ELSE {c} END) / ln(2))"
_HIST = """
INSERT INTO latencyrollup (hour, endpoint, model, kind, bins)
SELECT h, endpoint, model, kind, {obj} FROM (
  SELECT h, endpoint, model, kind, b, count(*) AS n FROM (
    SELECT {hour} AS h, endpoint, model, 'latency' AS kind, {lat_bin} AS b
    FROM run {where} {and_} latency_ms IS NOT NULL
    UNION ALL
    SELECT {hour}, endpoint, model, 'ttft', {ttft_bin} FROM run {where} {and_} ttft_ms IS NOT NULL
  ) x GROUP BY h, endpoint, model, kind, b
) y GROUP BY h, endpoint, model, kind
"""
_OBJ = {"sqlite": "json_group_object(b, n)", "postgresql": "json_object_agg(b, n)::text"}


def usable(engine: Engine, since: datetime | None, until: datetime | None, grain: str) -> bool:
    """Whether a query can be answered from the rollup: hourly or daily buckets over an hour-aligned range."""
    def aligned(d: datetime | None) -> bool:
        return d is None or (d.minute == 0 and d.second == 0 and d.microsecond == 0)

    return engine.dialect.name in _HOUR and grain in ("hour", "day") and aligned(since) and aligned(until)


def _state(conn: Connection, key: str) -> int | None:
    return conn.execute(text("SELECT value FROM metricsstate WHERE key = :k"), {"k": key}).scalar()


def _set_state(conn: Connection, key: str, value: int) -> None:
    if conn.execute(text("UPDATE metricsstate SET value = :v WHERE key = :k"), {"k": key, "v": value}).rowcount == 0:
        conn.execute(text("INSERT INTO metricsstate (key, value) VALUES (:k, :v)"), {"k": key, "v": value})


def _lock(conn: Connection) -> None:
    """Serialise refreshes (and, on SQLite, take the write lock before reading anything)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
    else:
        _set_state(conn, "rollup_lock", 0)


def _safe_mark(conn: Connection, previous: int) -> int:
    """The highest run id below which every run that will ever be visible is visible now (see module doc)."""
    if conn.dialect.name != "postgresql":
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM run")).scalar() or 0)
    q = conn.execute(text("SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('run', 'id')), 0)")).scalar()
    at = conn.execute(text("SELECT clock_timestamp()")).scalar()  # after reading q: a writer begun later drew more
    writers = conn.execute(text(
        "SELECT count(*), count(a.xact_start), min(a.xact_start) FROM pg_locks l "
        "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.relation = 'run'::regclass AND l.mode = 'RowExclusiveLock' AND l.granted "
        "AND l.pid <> pg_backend_pid()")).one()
    conn.execute(text("INSERT INTO rollupmark (at, seq) VALUES (:at, :q)"), {"at": at, "q": int(q)})
    conn.execute(text("DELETE FROM rollupmark WHERE id <= (SELECT max(id) FROM rollupmark) - :n"), {"n": MARKS_KEPT})
    n, known, oldest = writers
    if n == 0:
        return int(q)
    if known < n:  # a writer we may not see the start of (no privilege): do not move
        return previous
    seen = conn.execute(text("SELECT max(seq) FROM rollupmark WHERE at < :t"), {"t": oldest}).scalar()
    return max(previous, min(int(seen or 0), int(q)))


def _ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Contiguous [start, end) ranges covering the given hour starts."""
    out: list[list[datetime]] = []
    for h in sorted(set(hours)):
        if out and out[-1][1] == h:
            out[-1][1] = h + timedelta(hours=1)
        else:
            out.append([h, h + timedelta(hours=1)])
    return [(a, b) for a, b in out]


def _hour_value(v) -> datetime:
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def _bound(conn: Connection, d: datetime):
    return d.strftime("%Y-%m-%d %H:%M:%S.%f") if conn.dialect.name == "sqlite" else d


def _hist(dialect: str, where: str) -> str:
    bins = {c: _BIN.format(n=BINS_PER_OCTAVE, c=c) for c in ("latency_ms", "ttft_ms")}
    return _HIST.format(hour=_HOUR[dialect], lat_bin=bins["latency_ms"], ttft_bin=bins["ttft_ms"],
                        where=where or "WHERE", and_="AND" if where else "", obj=_OBJ[dialect])


def _recompute(conn: Connection, previous: int | None) -> int:
    """Recompute the hours of runs above `previous` (all hours when None); returns the runs looked at."""
    dialect = conn.dialect.name
    cols = ", ".join(_KEYS + _SUMS)
    if previous is None:
        conn.execute(text("DELETE FROM runrollup"))
        conn.execute(text("DELETE FROM latencyrollup"))
        conn.execute(text(_AGG.format(cols=cols, hour=_HOUR[dialect], where="")))
        conn.execute(text(_hist(dialect, "")))
        return int(conn.execute(text("SELECT coalesce(sum(calls), 0) FROM runrollup")).scalar() or 0)
    rows = conn.execute(text(f"SELECT {_HOUR[dialect]} AS h, count(*) FROM run WHERE id > :w GROUP BY 1"),
                        {"w": previous}).fetchall()
    if not rows:
        return 0
    for lo, hi in _ranges([_hour_value(r[0]) for r in rows]):
        b = {"lo": _bound(conn, lo), "hi": _bound(conn, hi)}
        conn.execute(text("DELETE FROM runrollup WHERE hour >= :lo AND hour < :hi"), b)
        conn.execute(text("DELETE FROM latencyrollup WHERE hour >= :lo AND hour < :hi"), b)
        where = "WHERE created_at >= :lo AND created_at < :hi"
        conn.execute(text(_AGG.format(cols=cols, hour=_HOUR[dialect], where=where)), b)
        conn.execute(text(_hist(dialect, where)), b)
    return sum(int(r[1]) for r in rows)


def refresh(engine: Engine, attempts: int = 3, fresh_s: float = 0) -> int:
    """Bring the rollup up to date with committed runs; returns how many new runs were looked at.

    `fresh_s` > 0 skips the refresh when the last one is at most that many seconds old (one read, no write):
    a page that draws several charts refreshes once, and says "figures as of" that time.
    """
    if engine.dialect.name not in _HOUR:
        return 0
    if fresh_s > 0:
        last = as_of(engine)
        if last is not None and (datetime.now(UTC) - last).total_seconds() <= fresh_s:
            return 0
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                _lock(conn)
                previous = _state(conn, STATE_KEY)
                mark = _safe_mark(conn, previous or 0)
                n = _recompute(conn, previous)
                _set_state(conn, STATE_KEY, max(mark, previous or 0))
                _set_state(conn, AS_OF_KEY, int(time.time()))
                return n
        except OperationalError:  # SQLite busy snapshot / locked: another writer; try again shortly
            if attempt == attempts - 1:
                return 0
            time.sleep(0.05 * (attempt + 1))
    return 0


def rebuild(engine: Engine) -> int:
    """Recompute the whole rollup from `run` (after runs were deleted or edited); returns runs folded."""
    if engine.dialect.name not in _HOUR:
        return 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM metricsstate WHERE key = :k"), {"k": STATE_KEY})
    return refresh(engine)


def as_of(engine: Engine) -> datetime | None:
    """When the rollup was last refreshed (UTC), or None if never."""
    with engine.connect() as conn:
        v = _state(conn, AS_OF_KEY)
    return None if v is None else datetime.fromtimestamp(int(v), UTC)


def histogram_usable(f) -> bool:
    """Whether latency percentiles for these filters can come from the histograms (only date/model/endpoint)."""
    return not (f.prompts or f.version_ids or f.labels or f.sources or f.actors)


def _day(engine: Engine, col):
    if engine.dialect.name == "sqlite":
        return func.substr(col, 1, 10) + " 00:00:00"
    return func.date_trunc("day", col, "UTC")


def histogram(engine: Engine, since: datetime, until: datetime, kind: str = "latency") -> dict[int, int]:
    """The summed histogram {bin: runs} of every endpoint x model over [since, until) (hour-aligned)."""
    h = LatencyRollup
    stmt = select(h.bins).where(h.hour >= since, h.hour < until, h.kind == kind)
    out: dict[int, int] = {}
    with engine.connect() as conn:
        for (bins,) in conn.execute(stmt):
            for k, n in json.loads(bins).items():
                out[int(k)] = out.get(int(k), 0) + int(n)
    return out


def bin_of(ms: float) -> int:
    """The histogram bin of a value in ms (as the SQL does it)."""
    return math.floor(BINS_PER_OCTAVE * math.log(max(ms, 0.01)) / math.log(2))


def rank(bins: dict[int, int], q: float) -> float | None:
    """The nearest-rank q-percentile (middle of its bin) of a histogram; None when empty."""
    return _ranks(sorted(bins.items()), (q,))[0]


def percentiles(engine: Engine, f, grain: str, qs: tuple[float, ...] = (0.5, 0.95)) -> pd.DataFrame:
    """Nearest-rank percentiles of latency and TTFT per (bucket, 'endpoint/model') from the histograms.

    Each reported value is the middle of the bin that holds the nearest-rank run: within 3.5% of its latency.
    Columns: bucket, model, p50_ms, p95_ms, ttft_p50_ms, ttft_p95_ms, n (runs with a latency).
    """
    h = LatencyRollup
    bucket = (h.hour if grain == "hour" else _day(engine, h.hour)).label("bucket")
    conds = []
    if f.since is not None:
        conds.append(h.hour >= f.since)
    if f.until is not None:
        conds.append(h.hour < f.until)
    if f.models:
        conds.append(h.model.in_(f.models))
    if f.endpoints:
        conds.append(h.endpoint.in_(f.endpoints))
    stmt = select(bucket, h.endpoint, h.model, h.kind, h.bins).where(and_(true(), *conds))
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    groups: dict[tuple, dict[str, np.ndarray]] = {}
    for b, ep, model, kind, bins in rows:  # dense counts per group: one vector add per rollup row
        g = groups.setdefault((b, f"{ep}/{model}" if ep else model),
                              {"latency": np.zeros(_SPAN, "int64"), "ttft": np.zeros(_SPAN, "int64")})[kind]
        d = json.loads(bins)
        if d:
            idx = np.clip(np.fromiter(d.keys(), "int64", len(d)) - _LOW, 0, _SPAN - 1)
            np.add.at(g, idx, np.fromiter(d.values(), "int64", len(d)))
    out = []
    for (b, model), g in groups.items():
        out.append((b, model, *_dense_ranks(g["latency"], qs), *_dense_ranks(g["ttft"], qs), int(g["latency"].sum())))
    cols = ["bucket", "model", *(f"p{round(q * 100)}_ms" for q in qs), *(f"ttft_p{round(q * 100)}_ms" for q in qs),
            "n"]
    df = pd.DataFrame(out, columns=cols)
    return df[df["n"] > 0].reset_index(drop=True)


_LOW, _SPAN = -70, 400  # bins -70..329: 0.008 ms to 10**9.9 ms; anything outside is clipped to the ends


def _dense_ranks(counts: np.ndarray, qs: tuple[float, ...]) -> list[float | None]:
    """Nearest-rank percentiles of dense bin counts (index 0 = bin _LOW)."""
    total = int(counts.sum())
    if not total:
        return [None for _ in qs]
    cum = np.cumsum(counts)
    return [2 ** ((int(np.searchsorted(cum, max(1, math.ceil(round(q * total, 9))))) + _LOW + 0.5) / BINS_PER_OCTAVE)
            for q in qs]


def _ranks(bins: list[tuple[int, int]], qs: tuple[float, ...]) -> list[float | None]:
    """Nearest-rank percentiles from (bin, count) pairs sorted by bin: the middle of the bin holding rank ceil(q n)."""
    total = sum(c for _b, c in bins)
    if not total:
        return [None for _ in qs]
    out = []
    for q in qs:
        rank, seen = max(1, math.ceil(round(q * total, 9))), 0
        for b, c in bins:
            seen += c
            if seen >= rank:
                out.append(2 ** ((b + 0.5) / BINS_PER_OCTAVE))
                break
    return out


def query(engine: Engine, f, grain: str, names: list[str]) -> pd.DataFrame:
    """The metrics rollup frame (same columns as the raw path) from the hourly table."""
    r = RunRollup
    bucket = r.hour if grain == "hour" else _day(engine, r.hour)
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
    for col, vals in ((r.model, f.models), (r.endpoint, f.endpoints), (r.source, f.sources), (r.actor, f.actors)):
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
    for col in ("error_kind", "actor"):
        if col in df:
            df[col] = df[col].where(df[col] != "", None)
    df["cost_usd"] = df["cost_usd"].astype("float64").where(df["priced"] > 0, None)
    return df
