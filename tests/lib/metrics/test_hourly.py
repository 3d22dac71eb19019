"""The hourly rollup (SQLite fast path) agrees with grouping `run` directly, and stays current."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlmodel import Session

import lib.models as m
from lib.metrics import aggregations as metrics
from lib.metrics import hourly as metrics_rollup
from lib.metrics import runs as metrics_runs
from tests.lib.metrics_data import HOUR, prompt_with_versions, run, standard

KEYS = ["bucket", "endpoint", "model", "version", "source", "status", "error_kind"]


def _aligned(**kw) -> metrics.Filters:
    return metrics.Filters(since=HOUR - timedelta(days=2), until=HOUR + timedelta(hours=3), **kw)


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    cols = KEYS + ["calls", "retried", "retries", "cache_hits", "http_429", "prompt_tokens", "completion_tokens",
                   "cost_usd", "priced", "latency_sum", "latency_n"]
    return df[cols].fillna({"error_kind": "", "version": ""}).sort_values(KEYS).reset_index(drop=True)


def test_rollup_matches_raw(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        vs = standard(s)
        s.add(run(None, model="C", created_at=HOUR + timedelta(minutes=70), http_status=None))
        s.add(m.Label(prompt_id=vs[0].prompt_id, name="production", version_id=vs[0].id))
        s.commit()
    for f in (_aligned(), _aligned(models=["B"]), _aligned(labels=["production"]), _aligned(prompts=["greet"]),
              _aligned(sources=["batch"], endpoints=["anthropic"])):
        assert metrics_rollup.usable(sqlite_engine, f.since, f.until, "hour")
        fast = metrics.rollup(sqlite_engine, f)
        raw = metrics.rollup(sqlite_engine, f, use_rollup=False)
        pd.testing.assert_frame_equal(_canon(fast), _canon(raw), check_dtype=False)
    day = metrics.rollup(sqlite_engine, _aligned(), grain="day")
    # The data spans HOUR+1 s .. HOUR+70 min, which crosses midnight UTC when the suite runs just after it.
    days = {(HOUR + timedelta(seconds=1)).date(), (HOUR + timedelta(minutes=70)).date()}
    assert metrics_runs.totals(day)["calls"] == 105 and day["bucket"].nunique() == len(days)


def test_incremental_refresh_and_rebuild(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        s.add_all([run(vs[0]) for _ in range(3)])
        s.commit()
    assert metrics_rollup.refresh(sqlite_engine) == 3
    assert metrics_rollup.refresh(sqlite_engine) == 0
    with Session(sqlite_engine) as s:
        s.add_all([run(vs[0], cost_usd=None) for _ in range(2)])
        s.commit()
    t = metrics_runs.totals(metrics.rollup(sqlite_engine, _aligned()))
    assert t["calls"] == 5 and t["unpriced_calls"] == 2 and t["spend_usd"] == 0.003
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM run WHERE cost_usd IS NULL")
    assert metrics_rollup.rebuild(sqlite_engine) >= 3
    assert metrics_runs.totals(metrics.rollup(sqlite_engine, _aligned()))["calls"] == 3


def test_unaligned_or_postgres_uses_run(engine):
    f = metrics.Filters(since=HOUR + timedelta(minutes=1))
    assert not metrics_rollup.usable(engine, f.since, None, "hour")
    assert metrics_rollup.usable(engine, HOUR, None, "hour") == (engine.dialect.name == "sqlite")
    assert metrics_rollup.refresh(engine) == 0


def test_fewer_keys_same_totals(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    for f in (_aligned(), metrics.Filters(since=HOUR - timedelta(minutes=5))):
        full = metrics.rollup(engine, f)
        part = metrics.rollup(engine, f, keys=["bucket", "model", "status"])
        assert len(part) <= len(full) and part["source"].isna().all() and "openai/A" in set(part["model"])
        assert metrics_runs.totals(part) == metrics_runs.totals(full)
        assert metrics_runs.cost_table(part, "model").equals(metrics_runs.cost_table(full, "model"))
