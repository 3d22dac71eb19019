"""Altair chart builders: pure functions of the small frames lib.metrics* return (no Streamlit, no SQL)."""

from __future__ import annotations

import altair as alt
import pandas as pd

# Streamlit fits the whole chart (title, axes, legend) into the height, so leave room beyond the plot.
HEIGHT = 340
_LEGEND = alt.Legend(orient="bottom", columns=3, labelLimit=260, title=None)


def _time(grain: str = "hour") -> alt.X:
    fmt = {"minute": "%H:%M", "hour": "%b %d %H:%M", "day": "%b %d"}.get(grain, "%b %d %H:%M")
    ticks = {"tickCount": "day"} if grain == "day" else {}  # one label per day, never "Nov 18, Nov 18"
    return alt.X("bucket:T", title=None, axis=alt.Axis(format=fmt, labelAngle=0, labelOverlap=True, **ticks))


def _highlight() -> alt.Parameter:
    """Click a legend entry to bring that series forward (many models on one chart stay readable)."""
    return alt.selection_point(fields=["model"], bind="legend")


def latency(df: pd.DataFrame, grain: str = "hour", prefix: str = "") -> alt.Chart:
    """p50 (solid) and p95 (dashed) per model over time; prefix 'ttft_' for time to first token.

    Points are drawn only when there are few buckets; the legend highlights one model.
    """
    cols = {f"{prefix}p50_ms": "p50", f"{prefix}p95_ms": "p95"}
    long = df[["bucket", "model", *cols]].rename(columns=cols).melt(
        id_vars=["bucket", "model"], var_name="percentile", value_name="ms").dropna(subset=["ms"])
    what = "time to first token" if prefix else "latency"
    sel = _highlight()
    few = long["bucket"].nunique() <= 40 if len(long) else True
    return (alt.Chart(long, title=f"{what.capitalize()} p50 / p95 (ms)").mark_line(point=few)
            .encode(x=_time(grain), y=alt.Y("ms:Q", title="ms"), color=alt.Color("model:N", legend=_LEGEND),
                    strokeDash=alt.StrokeDash("percentile:N", sort=["p50", "p95"],
                                              legend=alt.Legend(orient="bottom", title=None, symbolType="stroke")),
                    opacity=alt.condition(sel, alt.value(1.0), alt.value(0.12)),
                    tooltip=[alt.Tooltip("bucket:T", title="time"), "model:N", "percentile:N",
                             alt.Tooltip("ms:Q", format=",.0f")])
            .add_params(sel).properties(height=HEIGHT))


def _rate_scale(values: pd.Series) -> alt.Scale:
    """0 at the bottom, and some headroom even when every rate is 0 (else the axis reads 0.000000%)."""
    top = float(values.max()) if len(values) and pd.notna(values.max()) else 0.0
    return alt.Scale(domain=[0, max(top * 1.1, 0.01)])


def stacked(df: pd.DataFrame, y: str, color: str, title: str, grain: str = "day", y_title: str | None = None,
            y_format: str = ",.0f") -> alt.Chart:
    """Bars per time bucket, stacked by `color` (cost or tokens by model or version)."""
    axis_format = y_format.replace("f", "~f") if "~" not in y_format else y_format
    return (alt.Chart(df.dropna(subset=[y]), title=title).mark_bar()
            .encode(x=_time(grain), y=alt.Y(f"{y}:Q", title=y_title or y, stack="zero",
                                            axis=alt.Axis(format=axis_format)),
                    color=alt.Color(f"{color}:N", legend=_LEGEND),
                    tooltip=[alt.Tooltip("bucket:T", title="time"), f"{color}:N",
                             alt.Tooltip(f"{y}:Q", format=y_format), alt.Tooltip("calls:Q", format=",")])
            .properties(height=HEIGHT))


def errors(df: pd.DataFrame) -> alt.Chart:
    """Errors per endpoint, coloured by error kind (rate_limited = 429s)."""
    return (alt.Chart(df, title="Errors by endpoint and kind").mark_bar()
            .encode(y=alt.Y("endpoint:N", title=None, sort="-x"), x=alt.X("errors:Q", title="errors"),
                    color=alt.Color("error_kind:N", legend=_LEGEND),
                    tooltip=["endpoint:N", "error_kind:N", alt.Tooltip("errors:Q", format=","),
                             alt.Tooltip("error_rate:Q", format=".2%", title="share of calls")])
            .properties(height=140 + 40 * (df["endpoint"].nunique() if len(df) else 1)))


def rate(df: pd.DataFrame, y: str, color: str, title: str, grain: str = "hour") -> alt.Chart:
    """A rate (0..1) per key over time: error, retry or cache hit rate."""
    few = df["bucket"].nunique() <= 40 if len(df) else True
    return (alt.Chart(df, title=title).mark_line(point=few)
            .encode(x=_time(grain), y=alt.Y(f"{y}:Q", title=None, axis=alt.Axis(format=".1~%"),
                                            scale=_rate_scale(df[y] if y in df else pd.Series(dtype=float))),
                    color=alt.Color(f"{color}:N", legend=_LEGEND),
                    tooltip=[alt.Tooltip("bucket:T", title="time"), f"{color}:N", alt.Tooltip(f"{y}:Q", format=".2%"),
                             alt.Tooltip("calls:Q", format=",")])
            .properties(height=HEIGHT))


def throughput(df: pd.DataFrame, grain: str = "hour") -> alt.Chart:
    """Calls per minute per bucket, stacked by source."""
    return (alt.Chart(df, title="Throughput (calls per minute)").mark_bar()
            .encode(x=_time(grain), y=alt.Y("calls_per_min:Q", title="calls / min", stack="zero"),
                    color=alt.Color("source:N", legend=_LEGEND),
                    tooltip=[alt.Tooltip("bucket:T", title="time"), "source:N",
                             alt.Tooltip("calls_per_min:Q", format=",.2f"), alt.Tooltip("calls:Q", format=",")])
            .properties(height=HEIGHT))


def batch_rate(df: pd.DataFrame, y: str = "requests", limit: str = "rpm_limit") -> alt.LayerChart:
    """A running batch's requests (or tokens) per minute with the endpoint/job limit as a dashed rule."""
    what = "Requests" if y == "requests" else "Tokens"
    base = alt.Chart(df, title=f"{what} per minute vs limit")
    line = base.mark_line(point=True).encode(
        x=_time("minute"), y=alt.Y(f"{y}:Q", title=f"{y} / min"), color=alt.Color("endpoint:N", legend=_LEGEND),
        tooltip=[alt.Tooltip("bucket:T", title="minute"), "endpoint:N", alt.Tooltip(f"{y}:Q", format=",")])
    rule = base.transform_filter(f"isValid(datum.{limit})").mark_rule(strokeDash=[6, 4], color="firebrick").encode(
        y=f"max({limit}):Q")
    return alt.layer(line, rule).properties(height=HEIGHT)


def scores(df: pd.DataFrame, y: str = "pass_rate") -> alt.Chart:
    """Pass rate (or mean score) per prompt version, one bar per model."""
    title = "Pass rate" if y == "pass_rate" else "Mean score" if y == "mean_score" else "Thumbs-up rate"
    return (alt.Chart(df.dropna(subset=[y]), title=f"{title} by version and model").mark_bar()
            .encode(x=alt.X("version:N", title=None, axis=alt.Axis(labelAngle=0, labelLimit=160)),
                    xOffset="model:N", y=alt.Y(f"{y}:Q", title=None, axis=alt.Axis(format=".0%"),
                                               scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("model:N", legend=_LEGEND),
                    tooltip=["version:N", "model:N", alt.Tooltip(f"{y}:Q", format=".1%"),
                             alt.Tooltip("scored_runs:Q", title="scored"), alt.Tooltip("rated_runs:Q", title="rated")])
            .properties(height=HEIGHT))


def leaderboard(df: pd.DataFrame) -> alt.LayerChart:
    """Arena ratings with their 95% intervals, best first."""
    order = df["player"].tolist()
    base = alt.Chart(df, title="Arena rating (Bradley-Terry, 95% CI)")
    bars = base.mark_rule(strokeWidth=2).encode(
        y=alt.Y("player:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X("ci_low:Q", title="rating", scale=alt.Scale(zero=False)), x2="ci_high:Q")
    pts = base.mark_point(filled=True, size=80).encode(
        y=alt.Y("player:N", sort=order), x="rating:Q",
        tooltip=["player:N", "rating:Q", "ci_low:Q", "ci_high:Q", "votes:Q", "wins:Q", "losses:Q", "ties:Q"])
    return alt.layer(bars, pts).properties(height=110 + 36 * len(df))


def deltas(cases: pd.DataFrame) -> alt.Chart:
    """Histogram of per-case score differences (B - A, points)."""
    d = cases.dropna(subset=["delta"]).assign(points=lambda x: x["delta"] * 100)
    return (alt.Chart(d, title="Score change per case (B - A, points)").mark_bar()
            .encode(x=alt.X("points:Q", bin=alt.Bin(maxbins=30), title="points"),
                    y=alt.Y("count():Q", title="cases"),
                    color=alt.Color("outcome:N", scale=alt.Scale(domain=["worse", "same", "better"],
                                                                 range=["#d62728", "#999999", "#2ca02c"]),
                                    legend=_LEGEND))
            .properties(height=260))
