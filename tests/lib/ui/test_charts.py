"""Chart builders are pure functions of a frame: check their specs, without Streamlit or a database."""

from __future__ import annotations

import pandas as pd
import pytest

from lib.ui import charts

T0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")


def _spec(chart) -> dict:
    return chart.to_dict()


def _data(spec: dict) -> list[dict]:
    return next(iter(spec["datasets"].values()))


def test_latency_chart_folds_percentiles():
    df = pd.DataFrame({"bucket": [T0, T0], "model": ["A", "B"], "p50_ms": [50.0, 20.0], "p95_ms": [95.0, None],
                       "ttft_p50_ms": [25.0, 10.0], "ttft_p95_ms": [47.5, 15.0], "n": [100, 4]})
    spec = _spec(charts.latency(df))
    assert spec["mark"]["type"] == "line" and spec["encoding"]["strokeDash"]["field"] == "percentile"
    rows = _data(spec)
    assert len(rows) == 3 and {r["percentile"] for r in rows} == {"p50", "p95"}  # the missing p95 is dropped
    ttft = _spec(charts.latency(df, prefix="ttft_"))
    assert "first token" in ttft["title"] and len(_data(ttft)) == 4


def test_stacked_cost_and_throughput():
    df = pd.DataFrame({"bucket": [T0, T0], "model": ["A", "B"], "cost_usd": [1.5, None], "calls": [10, 2]})
    spec = _spec(charts.stacked(df, "cost_usd", "model", "Cost", y_format="$,.4f"))
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["y"]["stack"] == "zero"
    assert [r["model"] for r in _data(spec)] == ["A"]
    tp = pd.DataFrame({"bucket": [T0], "source": ["batch"], "calls": [60], "calls_per_min": [1.0]})
    assert _spec(charts.throughput(tp))["encoding"]["color"]["field"] == "source"


def test_errors_rates_scores_leaderboard_batch_and_deltas():
    err = pd.DataFrame({"endpoint": ["openai"], "error_kind": ["rate_limited"], "errors": [3], "calls": [10],
                        "error_rate": [0.3], "http_429": [3]})
    assert _spec(charts.errors(err))["encoding"]["color"]["field"] == "error_kind"
    rel = pd.DataFrame({"bucket": [T0], "endpoint": ["openai"], "calls": [10], "error_rate": [0.3]})
    rate_y = _spec(charts.rate(rel, "error_rate", "endpoint", "Error rate"))["encoding"]["y"]
    assert rate_y["axis"]["format"] == ".1~%" and rate_y["scale"]["domain"] == [0, pytest.approx(0.33)]
    sc = pd.DataFrame({"version": ["p:1"], "model": ["A"], "pass_rate": [0.5], "scored_runs": [2], "rated_runs": [0]})
    assert _spec(charts.scores(sc))["encoding"]["xOffset"]["field"] == "model"
    lb = pd.DataFrame({"player": ["p:2", "p:1"], "rating": [1100.0, 900.0], "ci_low": [1000.0, 800.0],
                       "ci_high": [1200.0, 1000.0], "votes": [5, 5], "wins": [4, 1], "losses": [1, 4], "ties": [0, 0]})
    layers = _spec(charts.leaderboard(lb))["layer"]
    assert layers[0]["encoding"]["y"]["sort"] == ["p:2", "p:1"] and layers[0]["encoding"]["x2"]["field"] == "ci_high"
    br = pd.DataFrame({"bucket": [T0], "endpoint": ["openai"], "requests": [30], "tokens": [900],
                       "rpm_limit": [60], "tpm_limit": [None]})
    assert len(_spec(charts.batch_rate(br))["layer"]) == 2
    cases = pd.DataFrame({"delta": [0.1, -0.2, 0.0, None], "outcome": ["better", "worse", "same", "unscored"]})
    assert len(_data(_spec(charts.deltas(cases)))) == 3


def test_empty_frames_still_build():
    empty = pd.DataFrame(columns=["bucket", "model", "p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms", "n"])
    assert _spec(charts.latency(empty))["mark"]["type"] == "line"


def test_all_zero_rates_and_costs_keep_readable_axes():
    rel = pd.DataFrame({"bucket": [T0], "endpoint": ["echo"], "calls": [3], "error_rate": [0.0]})
    y = _spec(charts.rate(rel, "error_rate", "endpoint", "Error rate"))["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 0.01]
    df = pd.DataFrame({"bucket": [T0], "model": ["echo/echo"], "cost_usd": [0.0], "calls": [3]})
    cost_y = _spec(charts.stacked(df, "cost_usd", "model", "Cost", y_format="$,.4f"))["encoding"]["y"]
    assert cost_y["axis"]["format"] == "$,.4~f"
