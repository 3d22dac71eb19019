"""Presentation helpers with no Streamlit: formatters, drafts, markdown escaping, workspace summary, chart specs.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .charts import batch_rate, deltas, errors, latency, leaderboard, rate, scores, stacked, throughput
from .dataset_edit import EXPECTED_COLUMN, MAX_EDIT_ROWS, editor_frame, row_from_answer, rows_from_frame
from .drafts import (
    ALL_ROLES,
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
from .params_form import (
    JSON_FIELDS,
    NOT_SET,
    NUMBER_PARAMS,
    ParamFields,
    as_params,
    build_params,
    fields_for,
    sent_as_is,
    sent_summary,
)
from .workspace import load_page_state, save_page_state, storable

__all__ = [
    "load_page_state",
    "save_page_state",
    "storable",
    "EXPECTED_COLUMN",
    "JSON_FIELDS",
    "MAX_EDIT_ROWS",
    "NOT_SET",
    "NUMBER_PARAMS",
    "ALL_ROLES",
    "ROLES",
    "UNKNOWN",
    "ParamFields",
    "as_params",
    "batch_rate",
    "blank_draft",
    "build_params",
    "count",
    "deltas",
    "draft_from_version",
    "draft_messages",
    "editor_frame",
    "errors",
    "fields_for",
    "is_dirty",
    "latency",
    "latency_text",
    "leaderboard",
    "md_escape",
    "money",
    "move",
    "new_message",
    "parse_params",
    "parse_tags",
    "percent",
    "rate",
    "rate_per_s",
    "row_from_answer",
    "rows_from_frame",
    "score",
    "scores",
    "sent_as_is",
    "sent_summary",
    "spend",
    "stacked",
    "text_or_dash",
    "throughput",
    "tokens",
    "version_label",
    "workspace_summary",
]
