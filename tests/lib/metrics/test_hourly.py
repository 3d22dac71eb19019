"""The hourly rollup agrees with grouping `run` directly on SQLite and PostgreSQL, and stays current, including
late commits with an older `created_at` and (PostgreSQL) ids that commit out of order."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlmodel import Session

import lib.models as m
from lib.metrics import aggregations as metrics
from lib.metrics import hourly as metrics_rollup
from lib.metrics import runs as metrics_runs
from lib.metrics.filters import Filters
from tests.lib.metrics_data import HOUR, prompt_with_versions, run, standard

KEYS = ["bucket", "endpoint", "model", "version", "source", "status", "error_kind", "actor"]


def _aligned(**kw) -> Filters:
    return Filters(since=HOUR - timedelta(days=2), until=HOUR + timedelta(hours=3), **kw)


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    cols = KEYS + ["calls", "retried", "retries", "cache_hits", "http_429", "prompt_tokens", "completion_tokens",
                   "cost_usd", "priced", "latency_sum", "latency_n"]
    return df[cols].fillna({"error_kind": "", "version": "", "actor": ""}).sort_values(KEYS).reset_index(drop=True)


def _same(engine, f) -> None:
    assert metrics_rollup.usable(engine, f.since, f.until, "hour")
    fast = metrics.rollup(engine, f)
    raw = metrics.rollup(engine, f, use_rollup=False)
    pd.testing.assert_frame_equal(_canon(fast), _canon(raw), check_dtype=False)


def test_rollup_matches_raw(engine):
    sqlite_engine = engine
    with Session(sqlite_engine, expire_on_commit=False) as s:
        vs = standard(s)
        s.add(run(None, model="C", created_at=HOUR + timedelta(minutes=70), http_status=None, actor="ana@acme.com"))
        s.add(m.Label(prompt_id=vs[0].prompt_id, name="production", version_id=vs[0].id))
        s.commit()
    for f in (_aligned(), _aligned(models=["B"]), _aligned(labels=["production"]), _aligned(prompts=["greet"]),
              _aligned(sources=["batch"], endpoints=["anthropic"]), _aligned(actors=["ana@acme.com"])):
        _same(sqlite_engine, f)
    assert metrics_runs.totals(metrics.rollup(sqlite_engine, _aligned(actors=["ana@acme.com"])))["calls"] == 1
    day = metrics.rollup(sqlite_engine, _aligned(), grain="day")
    # The data spans HOUR+1 s .. HOUR+70 min, which crosses midnight UTC when the suite runs just after it.
    days = {(HOUR + timedelta(seconds=1)).date(), (HOUR + timedelta(minutes=70)).date()}
    assert metrics_runs.totals(day)["calls"] == 105 and day["bucket"].nunique() == len(days)


def test_incremental_refresh_and_rebuild(engine):
    sqlite_engine = engine
    with Session(sqlite_engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        s.add_all([run(vs[0]) for _ in range(3)])
        s.commit()
    assert metrics_rollup.refresh(sqlite_engine) == 3
    assert metrics_rollup.refresh(sqlite_engine) == 0
    assert metrics_rollup.as_of(sqlite_engine) is not None
    with Session(sqlite_engine) as s:
        s.add_all([run(vs[0], cost_usd=None) for _ in range(2)])
        s.commit()
    t = metrics_runs.totals(metrics.rollup(sqlite_engine, _aligned()))
    assert t["calls"] == 5 and t["unpriced_calls"] == 2 and t["spend_usd"] == 0.003
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM run WHERE cost_usd IS NULL")
    assert metrics_rollup.rebuild(sqlite_engine) >= 3
    assert metrics_runs.totals(metrics.rollup(sqlite_engine, _aligned()))["calls"] == 3


def test_unaligned_ranges_use_run(engine):
    f = Filters(since=HOUR + timedelta(minutes=1))
    assert not metrics_rollup.usable(engine, f.since, None, "hour")
    assert not metrics_rollup.usable(engine, HOUR, None, "minute")
    assert metrics_rollup.usable(engine, HOUR, None, "hour")
    assert metrics_rollup.refresh(engine) == 0


def test_late_commit_with_an_older_created_at(engine):
    """A run written now for a call three days ago (e.g. a provider batch result) lands in its own hour."""
    with Session(engine, expire_on_commit=False) as s:
        vs = standard(s)
    f = Filters(since=HOUR - timedelta(days=12), until=HOUR + timedelta(hours=3))
    _same(engine, f)
    before = metrics_runs.totals(metrics.rollup(engine, f))["calls"]
    with Session(engine) as s:
        s.add_all([run(vs[1], created_at=HOUR - timedelta(days=3, minutes=-7), model="late", actor="cli:bo"),
                   run(vs[1], created_at=HOUR - timedelta(days=10), model="A", latency_ms=7.0)])  # an existing hour
        s.commit()
    _same(engine, f)
    assert metrics_runs.totals(metrics.rollup(engine, f))["calls"] == before + 2
    day3 = Filters(since=HOUR - timedelta(days=3), until=HOUR - timedelta(days=3, hours=-1))
    assert metrics.rollup(engine, day3)["model"].tolist() == ["openai/late"]
    assert metrics.rollup(engine, day3)["actor"].tolist() == ["cli:bo"]


def test_postgres_ids_committed_out_of_order(pg_engine):
    """A transaction holding a smaller id commits after a larger one was rolled up: the rollup still counts it."""
    with Session(pg_engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        s.add(run(vs[0]))
        s.commit()
    f = _aligned()
    assert metrics_runs.totals(metrics.rollup(pg_engine, f))["calls"] == 1
    slow = Session(pg_engine)
    slow.add(run(vs[0], model="slow", created_at=HOUR - timedelta(hours=20)))  # an hour nothing else touches
    slow.flush()  # id drawn, not committed
    with Session(pg_engine) as s:
        s.add(run(vs[0], model="fast"))
        s.commit()
    _same(pg_engine, f)
    assert metrics_runs.totals(metrics.rollup(pg_engine, f))["calls"] == 2  # the slow one is not visible yet
    slow.commit()
    slow.close()
    _same(pg_engine, f)
    assert set(metrics.rollup(pg_engine, f)["model"]) == {"openai/gpt-x", "openai/fast", "openai/slow"}
    assert metrics_rollup.refresh(pg_engine) <= 1  # the mark has passed every committed run


def test_postgres_mark_waits_for_an_open_writer(pg_engine):
    """With a transaction still open on `run`, the mark stops below the ids it may hold."""
    with Session(pg_engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        s.add(run(vs[0]))
        s.commit()
    metrics_rollup.refresh(pg_engine)
    slow = Session(pg_engine)
    slow.add(run(vs[0], model="slow", created_at=HOUR - timedelta(hours=30)))
    slow.flush()
    for _ in range(3):
        with Session(pg_engine) as s:
            s.add(run(vs[0], model="fast"))
            s.commit()
        metrics_rollup.refresh(pg_engine)
    slow.commit()
    slow.close()
    f = Filters(since=HOUR - timedelta(days=2), until=HOUR + timedelta(hours=3))
    _same(pg_engine, f)
    assert metrics_runs.totals(metrics.rollup(pg_engine, f))["calls"] == 5


def test_fewer_keys_same_totals(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    for f in (_aligned(), Filters(since=HOUR - timedelta(minutes=5))):
        full = metrics.rollup(engine, f)
        part = metrics.rollup(engine, f, keys=["bucket", "model", "status"])
        assert len(part) <= len(full) and part["source"].isna().all() and "openai/A" in set(part["model"])
        assert metrics_runs.totals(part) == metrics_runs.totals(full)
        assert metrics_runs.cost_table(part, "model").equals(metrics_runs.cost_table(full, "model"))


def test_histogram_percentiles_are_within_the_bin_of_the_exact_ones(engine):
    """Latency percentiles from the hourly histograms agree with exact nearest-rank ones to 3.5%."""
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        for i in range(1, 301):
            s.add(run(vs[0], model="A", latency_ms=float(i * i % 997 + 1), ttft_ms=float(i % 50 + 0.5),
                      created_at=HOUR + timedelta(seconds=i)))
            if i % 3 == 0:
                s.add(run(vs[1], model="B", endpoint="anthropic", latency_ms=float(5000 + i), ttft_ms=None,
                          created_at=HOUR - timedelta(hours=5, seconds=i)))
        s.add(run(vs[0], model="A", latency_ms=0.0, created_at=HOUR + timedelta(minutes=9)))  # zero: lowest bin
        s.commit()
    f = _aligned()
    for grain in ("hour", "day"):
        exact = metrics.latency(engine, f, grain, total=401, histogram_over=10_000)
        hist = metrics.latency(engine, f, grain, total=401, histogram_over=0)
        assert exact.attrs["method"] == "exact" and hist.attrs["method"] == "histogram"
        assert hist[["bucket", "model", "n"]].equals(exact[["bucket", "model", "n"]])
        for col in ("p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms"):
            for e, h in zip(exact[col], hist[col], strict=True):
                assert (pd.isna(e) and pd.isna(h)) or (e == 0 and h < 0.011) or abs(h - e) / e <= 0.036, (col, e, h)
    # a filter the histograms do not hold (the source) falls back to the exact path
    assert metrics.latency(engine, _aligned(sources=["batch"]), "hour", total=401, histogram_over=0
                           ).attrs["method"] == "exact"
    with Session(engine) as s:  # a late commit in an old hour moves that hour's histogram too
        s.add(run(vs[1], model="B", endpoint="anthropic", latency_ms=99_000.0,
                  created_at=HOUR - timedelta(hours=5, seconds=1)))
        s.commit()
    hist = metrics.latency(engine, f, "hour", total=402, histogram_over=0)
    b = hist[hist["model"] == "anthropic/B"].iloc[0]
    assert b["n"] == 101 and abs(b["p95_ms"] - 5288) / 5288 <= 0.036  # rank 96 of 5003..5300 and 99,000
