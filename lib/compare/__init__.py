"""Compare: live side-by-side runs, votes, the arena leaderboard, A/B version verdicts and statistics.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .arena import leaderboard, vote_count
from .display import ComparisonDisplay, comparison_display
from .gate import GateResult, check_gate, parse_rate
from .live import (
    MAX_COLUMNS,
    MIN_COLUMNS,
    ColumnSpec,
    CompareJob,
    blind_name,
    column_labels,
    get_comparison,
    running_job,
    runs_of,
    start,
)
from .verdicts import Side, Verdict, candidates, case_diff, delta_text, filter_cases, pair_cases, prompt_diff, verdict
from .versions import VersionComparison, comparable_jobs, compare_versions
from .votes import mark_best, record_vote, votes_of

__all__ = [
    "ComparisonDisplay",
    "comparison_display",
    "ColumnSpec",
    "GateResult",
    "CompareJob",
    "MAX_COLUMNS",
    "MIN_COLUMNS",
    "Side",
    "Verdict",
    "VersionComparison",
    "blind_name",
    "candidates",
    "case_diff",
    "check_gate",
    "column_labels",
    "comparable_jobs",
    "compare_versions",
    "delta_text",
    "filter_cases",
    "get_comparison",
    "leaderboard",
    "vote_count",
    "mark_best",
    "pair_cases",
    "parse_rate",
    "prompt_diff",
    "record_vote",
    "runs_of",
    "running_job",
    "start",
    "verdict",
    "votes_of",
]
