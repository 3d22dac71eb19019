"""Presentation helpers with no Streamlit: formatters, drafts, markdown escaping, workspace summary, chart specs.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .charts import batch_rate, deltas, errors, latency, leaderboard, rate, scores, stacked, throughput
from .drafts import (
    ROLES,
    blank_draft,
    draft_from_version,
    draft_messages,
    is_dirty,
    md_escape,
    move,
    new_message,
    parse_params,
    parse_tags,
    workspace_summary,
)
from .formatting import (
    UNKNOWN,
    count,
    latency_text,
    money,
    percent,
    rate_per_s,
    score,
    spend,
    text_or_dash,
    tokens,
    version_label,
)

__all__ = [
    "UNKNOWN",
    "count",
    "latency_text",
    "money",
    "percent",
    "rate_per_s",
    "score",
    "spend",
    "text_or_dash",
    "tokens",
    "version_label",
    "ROLES",
    "batch_rate",
    "blank_draft",
    "deltas",
    "draft_from_version",
    "draft_messages",
    "errors",
    "is_dirty",
    "latency",
    "leaderboard",
    "md_escape",
    "move",
    "new_message",
    "parse_params",
    "parse_tags",
    "rate",
    "scores",
    "stacked",
    "throughput",
    "workspace_summary",
]
