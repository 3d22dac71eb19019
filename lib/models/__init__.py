"""Database tables (SQLModel), one module per noun.  The schema itself is owned by Alembic (migrations/).

Importing this package registers every table on `SQLModel.metadata`.  Timestamps are timezone-aware UTC
(`utcnow()`); SQLModel stores them as timestamptz on PostgreSQL and as UTC text on SQLite, and hands them
back aware.  JSON columns hold lists/dicts; never an API key.

- `base`: `utcnow` and `json_field` (the JSON column helper the table modules share)
- `prompts`: Prompt, PromptVersion, Label, LabelEvent
- `endpoints`: Endpoint, KeyBinding
- `runs`: Run, Score, ResponseCache, Price, RunRollup, LatencyRollup, RollupMark, MetricsState
- `compare`: Comparison, ArenaVote
- `batch`: Dataset, DatasetRow, BatchJob, BatchItem
- `webhooks`: Webhook, WebhookDelivery, WebhookOutbox
- `teams`: User, AuditEvent, ApiToken, PageState
"""

from __future__ import annotations

from .base import utcnow
from .batch import BatchItem, BatchJob, Dataset, DatasetRow
from .compare import ArenaVote, Comparison
from .endpoints import Endpoint, KeyBinding
from .prompts import Label, LabelEvent, Prompt, PromptVersion
from .runs import LatencyRollup, MetricsState, Price, ResponseCache, RollupMark, Run, RunRollup, Score
from .teams import ApiToken, AuditEvent, PageState, User
from .webhooks import Webhook, WebhookDelivery, WebhookOutbox

__all__ = [
    "ApiToken",
    "ArenaVote",
    "AuditEvent",
    "BatchItem",
    "BatchJob",
    "Comparison",
    "Dataset",
    "DatasetRow",
    "Endpoint",
    "KeyBinding",
    "Label",
    "LabelEvent",
    "LatencyRollup",
    "MetricsState",
    "PageState",
    "Price",
    "Prompt",
    "PromptVersion",
    "ResponseCache",
    "RollupMark",
    "Run",
    "RunRollup",
    "Score",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookOutbox",
    "utcnow",
]
