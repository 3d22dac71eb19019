"""Aggregations on literal data, on SQLite and PostgreSQL: known percentiles, totals and rates."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlmodel import Session

import lib.models as m
from lib.metrics import aggregations as metrics
from lib.metrics import quality as metrics_scores
from lib.metrics import runs as metrics_runs
from lib.metrics.filters import Filters
from tests.lib.metrics_data import HOUR, NOW, prompt_with_versions, run, standard


def _f(**kw) -> Filters:
    return Filters(since=NOW - timedelta(days=1), until=NOW + timedelta(hours=2), **kw)


def test_rollup_totals(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    roll = metrics.rollup(engine, _f())
    t = metrics_runs.totals(roll)
    assert t["calls"] == 104 and t["errors"] == 1
    assert t["error_rate"] == pytest.approx(1 / 104)
    assert t["spend_usd"] == pytest.approx(100 * 0.01 + 2 * 0.5)
    assert t["unpriced_calls"] == 2
    assert t["cost_per_1k_calls"] == pytest.approx(2.0 / 102 * 1000)
    assert t["prompt_tokens"] == 100 * 10 + 3 * 100
    assert t["retry_rate"] == pytest.approx(1 / 104)
    assert t["cache_hit_rate"] == pytest.approx(10 / 104)
    assert set(roll["version"]) == {"greet:1", "greet:2"}
    assert (roll["bucket"] == HOUR).all()


def test_latency_percentiles_exact(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    lat = metrics.latency(engine, _f()).set_index("model")
    assert lat.loc["openai/A", "p50_ms"] == 50 and lat.loc["openai/A", "p95_ms"] == 95
    assert lat.loc["openai/A", "ttft_p50_ms"] == 25 and lat.loc["openai/A", "ttft_p95_ms"] == 47.5
    assert lat.loc["anthropic/B", "p50_ms"] == 20 and lat.loc["anthropic/B", "p95_ms"] == 40
    assert lat.loc["anthropic/B", "ttft_p95_ms"] == 15  # the errored run has no TTFT: 3 values 5, 10, 15
    assert lat.loc["openai/A", "n"] == 100
    assert metrics.percentile_overall(engine, _f(models=["A"]), 0.95) == 95
    # With the run count known and small, PostgreSQL ranks in SQL (percentile_disc): same numbers.
    cols = ["bucket", "model", "p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms", "n"]
    pd.testing.assert_frame_equal(metrics.latency(engine, _f(), total=104)[cols], lat.reset_index()[cols],
                                  check_dtype=False)


def test_sqlite_sampling_bounds_the_error(sqlite_engine, monkeypatch):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        standard(s)
    monkeypatch.setattr(metrics, "SAMPLE_MAX", 10)
    lat = metrics.latency(sqlite_engine, _f(models=["A"]), total=100).set_index("model")
    assert lat.loc["openai/A", "sample_every"] >= 10 and 5 <= lat.loc["openai/A", "n"] <= 11
    assert 40 <= lat.loc["openai/A", "p50_ms"] <= 60 and lat.loc["openai/A", "p95_ms"] >= 85


def test_filters(engine):
    with Session(engine, expire_on_commit=False) as s:
        vs = standard(s)
        s.add(m.Label(prompt_id=vs[1].prompt_id, name="production", version_id=vs[1].id))
        s.commit()
    assert metrics_runs.totals(metrics.rollup(engine, _f(models=["B"])))["calls"] == 4
    assert metrics_runs.totals(metrics.rollup(engine, _f(labels=["production"])))["calls"] == 4
    assert metrics_runs.totals(metrics.rollup(engine, _f(sources=["batch"], endpoints=["anthropic"])))["calls"] == 4
    assert metrics_runs.totals(metrics.rollup(engine, _f(version_ids=[vs[0].id])))["calls"] == 100
    assert metrics_runs.totals(metrics.rollup(engine, _f(prompts=["nope"])))["calls"] == 0
    everything = Filters()
    assert metrics_runs.totals(metrics.rollup(engine, everything))["calls"] == 105


def test_reshapes(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    roll = metrics.rollup(engine, _f())
    tc = metrics_runs.cost_table(roll, "model").set_index("model")
    a, b = tc.loc["openai/A"], tc.loc["anthropic/B"]
    assert a["cost_usd"] == pytest.approx(1.0) and a["cost_per_1k_calls"] == pytest.approx(10.0)
    assert b["unpriced_calls"] == 2 and b["cost_per_1k_calls"] == pytest.approx(500.0)
    err = metrics_runs.errors(roll)
    assert err.to_dict("records")[0] == {"endpoint": "anthropic", "error_kind": "rate_limited", "errors": 1,
                                              "calls": 4, "error_rate": 0.25, "http_429": 1}
    rel = metrics_runs.reliability(roll, "endpoint").set_index("endpoint")
    assert rel.loc["anthropic", "retry_rate"] == 0.25 and rel.loc["anthropic", "retries"] == 2
    assert rel.loc["openai", "cache_hit_rate"] == pytest.approx(0.1)
    tp = metrics_runs.throughput(roll, "hour")
    assert tp["calls"].sum() == 104
    assert tp.loc[tp["source"] == "batch", "calls_per_min"].iloc[0] == pytest.approx(4 / 60)
    by_v = metrics_runs.tokens_cost(roll, "version").set_index("version")
    assert by_v.loc["greet:2", "tokens"] == 450


def test_empty_database(engine):
    roll = metrics.rollup(engine, _f())
    assert roll.empty and metrics_runs.totals(roll)["calls"] == 0
    assert metrics.latency(engine, _f()).empty
    for fn in (metrics_runs.errors, metrics_runs.cost_table):
        assert fn(roll).empty
    assert metrics_scores.scores(engine, _f()).empty
    h = metrics.headline(engine=engine)
    assert h["calls"] == 0 and h["error_rate"] is None and h["p95_latency_ms"] is None
    assert metrics.options(engine)["has_runs"] is False


def test_headline(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    h = metrics.headline(engine=engine, now=NOW + timedelta(hours=1))
    assert h["calls"] == 104 and h["spend_usd"] == pytest.approx(2.0)
    # rank 99 of 104 is 95 ms; whole hours come from the histograms, whose bin middle is within 3.5%
    assert h["error_rate"] == pytest.approx(1 / 104) and h["p95_latency_ms"] == pytest.approx(95, rel=0.036)
    with Session(engine, expire_on_commit=False) as s:
        assert metrics.headline(session=s, now=NOW + timedelta(hours=1))["calls"] == 104


def test_headline_edges_and_whole_hours_add_up(engine):
    """The headline reads whole hours from the rollup and the two partial hours from `run`: same totals."""
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        for i, minutes in enumerate((-23 * 60 - 50, -23 * 60 - 32, -23 * 60 - 10, -600, -61, -59, -5, 1, 20, 29)):
            s.add(run(vs[0], created_at=NOW + timedelta(minutes=minutes), cost_usd=None if i == 4 else 0.25,
                      status="error" if i % 4 == 0 else "ok"))
        s.commit()
    now = NOW + timedelta(minutes=25)  # HOUR + 55 min: partial hours at both ends
    h = metrics.headline(engine=engine, now=now)
    raw = metrics_runs.totals(metrics.rollup(engine, Filters(since=now - timedelta(hours=24), until=now),
                                     grain="minute"))
    assert h["calls"] == raw["calls"] == 8 and h["unpriced_calls"] == raw["unpriced_calls"] == 1
    assert h["spend_usd"] == pytest.approx(raw["spend_usd"]) and h["error_rate"] == pytest.approx(raw["error_rate"])


def test_options(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    o = metrics.options(engine)
    assert o["models"] == ["A", "B"] and o["endpoints"] == ["anthropic", "openai"]
    assert o["sources"] == ["batch", "playground"] and o["prompts"] == ["greet"]
    assert [v[1] for v in o["versions"]] == ["greet:1", "greet:2"]


def test_scores(engine):
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        runs = [run(vs[0], model="A"), run(vs[0], model="A"), run(vs[1], model="A", rating=1),
                run(vs[1], model="A", rating=-1), run(None, model="A", rating=1)]
        s.add_all(runs)
        s.flush()
        s.add_all([m.Score(run_id=runs[0].id, evaluator="contains", passed=True, score=1.0),
                   m.Score(run_id=runs[0].id, evaluator="judge", passed=True, score=0.5),
                   m.Score(run_id=runs[1].id, evaluator="contains", passed=False, score=0.0),
                   m.Score(run_id=runs[1].id, evaluator="judge", passed=True, score=0.5)])
        s.commit()
    sc = metrics_scores.scores(engine, _f()).set_index("version")
    assert sc.loc["greet:1", "scored_runs"] == 2 and sc.loc["greet:1", "pass_rate"] == 0.5
    assert sc.loc["greet:1", "mean_score"] == pytest.approx(0.5)
    assert sc.loc["greet:2", "rated_runs"] == 2 and sc.loc["greet:2", "thumbs_up_rate"] == 0.5
    assert sc.loc["(no version)", "thumbs_up_rate"] == 1.0
    assert set(sc["model"]) == {"openai/A"}


def test_batch_rate_against_limits(engine):
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        ds = m.Dataset(name="d", format="csv", content_hash="h")
        s.add_all([ds, m.Endpoint(name="openai", kind="openai", rpm=60, tpm=10000)])
        s.flush()
        job = m.BatchJob(dataset_id=ds.id, status="running", rpm=30)
        s.add(job)
        s.flush()
        t0 = NOW.replace(second=0)
        for i in range(6):
            s.add(run(vs[0], batch_job_id=job.id, created_at=t0 + timedelta(seconds=i * 20)))
        s.commit()
        jid = job.id
    df = metrics_runs.batch_rate(engine, jid, minutes=30, now=NOW + timedelta(minutes=5))
    assert df["requests"].tolist() == [3, 3] and df["tokens"].tolist() == [45, 45]
    assert df["rpm_limit"].tolist() == [30, 30] and df["tpm_limit"].tolist() == [10000, 10000]
    assert metrics_runs.running_batches(engine)["id"].tolist() == [jid]


def test_parse_since():
    assert metrics.parse_since("24h", now=NOW) == NOW - timedelta(hours=24)
    assert metrics.parse_since("7d", now=NOW) == NOW - timedelta(days=7)
    assert metrics.parse_since("2026-01-02").isoformat() == "2026-01-02T00:00:00+00:00"
    with pytest.raises(ValueError):
        metrics.parse_since("yesterday")


def test_grain():
    assert metrics.grain_for(NOW - timedelta(hours=1), NOW) == "minute"
    assert metrics.grain_for(NOW - timedelta(days=2), NOW) == "hour"
    assert metrics.grain_for(NOW - timedelta(days=7), NOW) == "hour"
    assert metrics.grain_for(NOW - timedelta(days=8), NOW) == "day"
    assert metrics.grain_for(NOW - timedelta(days=30), NOW) == "day"


def test_percentiles_by_model_and_bounded_sample(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    by_model = metrics.percentiles(engine, _f(), by_model=True)
    assert by_model == {"openai/A": [50.0, 95.0], "anthropic/B": [20.0, 40.0]}
    p50, p95 = metrics.percentiles(engine, _f(models=["A"]), sample=10)[None]
    if engine.dialect.name == "sqlite":  # every ~10th run: nearest-rank of the sample
        assert 30 <= p50 <= 70 and p95 >= 80
    else:  # PostgreSQL is exact
        assert (p50, p95) == (50.0, 95.0)
    assert metrics.percentiles(engine, _f(prompts=["nope"])) == {}


def test_unknown_price_is_unknown_not_zero(engine):
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s)
        s.add_all([run(vs[0], cost_usd=None), run(vs[0], cost_usd=None)])
        s.commit()
    t = metrics_runs.totals(metrics.rollup(engine, _f()))
    assert t["calls"] == 2 and t["spend_usd"] is None and t["cost_per_1k_calls"] is None and t["unpriced_calls"] == 2
    h = metrics.headline(engine=engine, now=NOW + timedelta(hours=1))
    assert h["calls"] == 2 and h["spend_usd"] is None and h["unpriced_calls"] == 2
