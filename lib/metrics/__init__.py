"""Metrics: SQL aggregations over Run rows, the hourly rollup, run and score metrics.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .aggregations import SAMPLE_MAX, grain_for, headline, latency, options, parse_since, rollup
from .filters import Filters
from .hourly import rebuild, refresh
from .quality import scores
from .runs import batch_rate, cost_table, errors, reliability, running_batches, summary, throughput, tokens_cost, totals

__all__ = [
    "Filters",
    "SAMPLE_MAX",
    "batch_rate",
    "cost_table",
    "errors",
    "grain_for",
    "headline",
    "latency",
    "options",
    "parse_since",
    "rebuild",
    "refresh",
    "reliability",
    "rollup",
    "running_batches",
    "scores",
    "summary",
    "throughput",
    "tokens_cost",
    "totals",
]
