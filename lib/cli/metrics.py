"""`metrics` commands: the headline figures of the Metrics page on the command line."""

from __future__ import annotations

import typer

from lib import metrics
from lib.db import get_engine
from lib.metrics import rebuild as metrics_rollup_rebuild
from lib.metrics import summary as metrics_runs_summary

from .common import JsonOpt, emit, handle_errors


def _fmt(v, kind: str = "") -> str:
    if v is None:
        return "-"
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "usd":
        return f"${v:,.4f}"
    if kind == "ms":
        return f"{v:,.0f} ms"
    return f"{v:,}"


def _human(s: dict) -> str:
    lines = [f"since {s['since']:%Y-%m-%d %H:%M} UTC: {_fmt(s['calls'])} calls, {_fmt(s['errors'])} errors "
             f"({_fmt(s['error_rate'], 'pct')}), spend {_fmt(s['spend_usd'], 'usd')}"
             + (f" (+{s['unpriced_calls']} calls without a price)" if s["unpriced_calls"] else ""),
             f"latency p50 {_fmt(s['p50_latency_ms'], 'ms')}, p95 {_fmt(s['p95_latency_ms'], 'ms')}; "
             f"cost per 1,000 calls {_fmt(s['cost_per_1k_calls'], 'usd')}; retries {_fmt(s['retry_rate'], 'pct')}; "
             f"cache hits {_fmt(s['cache_hit_rate'], 'pct')}"]
    if s["models"]:
        lines.append(f"{'model':<40} {'calls':>9} {'errors':>8} {'spend':>12} {'p50':>10} {'p95':>10}")
        for m in s["models"]:
            lines.append(f"{m['model'][:40]:<40} {_fmt(m['calls']):>9} {_fmt(m['error_rate'], 'pct'):>8} "
                         f"{_fmt(m['spend_usd'], 'usd'):>12} {_fmt(m['p50_latency_ms'], 'ms'):>10} "
                         f"{_fmt(m['p95_latency_ms'], 'ms'):>10}")
    elif not s["calls"]:
        lines.append("no runs in this period")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the `metrics` command group."""
    sub = typer.Typer(no_args_is_help=True, help="Metrics: calls, spend, errors and latency.")
    app.add_typer(sub, name="metrics")

    @sub.command("summary")
    @handle_errors
    def summary(since: str = typer.Option("24h", "--since", help="24h, 7d, 30m or an ISO date (UTC)."),
                as_json: bool = JsonOpt) -> None:
        """Calls, spend, error rate, latency p50/p95 overall and per model."""
        s = metrics_runs_summary(get_engine(), metrics.parse_since(since))
        emit(s, as_json, lambda: _human(s))

    @sub.command("rebuild")
    @handle_errors
    def rebuild(as_json: bool = JsonOpt) -> None:
        """Recompute the hourly rollup and latency histograms from every run (after deleting or editing runs)."""
        n = metrics_rollup_rebuild(get_engine())
        emit({"runs": n}, as_json, f"rollup rebuilt from {n} runs")
