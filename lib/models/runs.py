"""Database tables (SQLModel).  The schema itself is owned by Alembic (migrations/).

Timestamps are timezone-aware UTC (`utcnow()`); SQLModel stores them as timestamptz
on PostgreSQL and as UTC text on SQLite, and hands them back aware.
JSON columns hold lists/dicts; never an API key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Current time, aware, in UTC (what every table stores)."""
    return datetime.now(UTC)


def _json(default: Any = None, nullable: bool = False):
    return Field(default_factory=(lambda: type(default)()) if default is not None else (lambda: None),
                 sa_column=Column(JSON, nullable=nullable))


class Prompt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    tags: list = _json([])
    archived: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class PromptVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("prompt_id", "number", name="uq_version_prompt_number"),
                      Index("ix_version_prompt_hash", "prompt_id", "content_hash"))
    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    number: int
    messages: list = _json([])
    template_format: str = Field(default="mustache", max_length=20)
    variables: list = _json([])
    model: str | None = Field(default=None, max_length=300)  # "endpoint/model"
    params: dict = _json({})
    model_overrides: dict = _json({})
    commit_message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    author: str = Field(default="", max_length=200)
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Label(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("prompt_id", "name", name="uq_label_prompt_name"),)
    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    name: str = Field(max_length=100)
    version_id: int = Field(foreign_key="promptversion.id")
    updated_at: datetime = Field(default_factory=utcnow)


class LabelEvent(SQLModel, table=True):
    """History of label moves: how a promote or a rollback is audited."""

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    label: str = Field(max_length=100)
    from_version: int | None = None  # version numbers, not ids: readable in exports
    to_version: int | None = None  # None = label removed
    kind: str = Field(default="promote", max_length=20)  # promote | rollback | remove
    author: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Endpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    kind: str = Field(max_length=20)  # openai | anthropic | echo
    base_url: str = Field(default="", max_length=500)
    api_key_env: str | None = Field(default=None, max_length=200)  # NAME of env var / secret
    headers: dict = _json({})  # extra non-secret headers
    models: list = _json([])  # static model list (used when /models is unavailable)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int = 8
    timeout_s: float = 60.0
    options: dict = _json({})  # kind-specific: anthropic_version, echo latency_ms / failure_rate
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=200)  # identity label of the last change
    # the last Test: ok or not, an error kind, a short message of our own words (never a key or a remote
    # body), when, and how long it took; NULL = never tested
    last_check_ok: bool | None = None
    last_check_kind: str = Field(default="", max_length=30)
    last_check_message: str = Field(default="", max_length=300)
    last_check_at: datetime | None = None
    last_check_latency_ms: float | None = None
    last_check_models: list = _json([], nullable=True)  # what it listed (capped), for the model pickers


class KeyBinding(SQLModel, table=True):
    """Where a key variable may be sent: the origin (scheme://host:port) it was first used with."""

    name: str = Field(primary_key=True, max_length=200)  # the key variable's NAME, never its value
    origin: str = Field(max_length=500)
    endpoint: str = Field(default="", max_length=100)  # the endpoint that bound it
    bound_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A workbench API token: only its sha256 is stored (the token is shown once, at creation)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    token_hash: str = Field(index=True, unique=True, max_length=64)  # sha256 hex of the whole token
    prefix: str = Field(default="", max_length=16)  # first characters, to recognise a token in a list
    scopes: list = _json([])  # read | run | write
    rpm: int | None = None  # requests per minute for this token; None = the default
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Webhook(SQLModel, table=True):
    """A URL told about label moves and new versions, each POST signed with HMAC-SHA256 of its body."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=1000)
    secret: str = Field(max_length=100)  # the signing secret (ours, shown once; not a provider key)
    events: list = _json([])  # label.moved, version.created; empty = every event
    active: bool = True
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One attempt to deliver one event to one webhook, with its outcome."""

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    event_id: str = Field(max_length=40, index=True)
    event: str = Field(max_length=50)
    payload: dict = _json({})
    attempt: int = 1
    status_code: int | None = None
    ok: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_ms: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WebhookOutbox(SQLModel, table=True):
    """One event to deliver to one webhook, written in the same transaction as the change it reports.

    Delivery workers claim due rows with a lease (`lease_owner`, `lease_until`), so a process that stops
    mid-delivery leaves the row to the next worker: delivery is at least once, and every try of the row
    carries the same `X-Workbench-Delivery` id (the event id) for receivers to drop repeats.
    """

    __table_args__ = (UniqueConstraint("event_id", "webhook_id", name="uq_webhookoutbox_event_hook"),
                      Index("ix_webhookoutbox_due", "state", "next_attempt_at"))
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    event_id: str = Field(max_length=40)
    event: str = Field(max_length=50)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the exact JSON sent (signed when sent)
    state: str = Field(default="pending", max_length=20)  # pending | delivered | failed | cancelled
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Run(SQLModel, table=True):
    """One model call, from any screen."""

    __table_args__ = (Index("ix_run_created_model", "created_at", "model"),
                      Index("ix_run_version_created", "version_id", "created_at"))
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    source: str = Field(default="cli", max_length=20, index=True)  # playground|compare|batch|cli|api
    prompt_id: int | None = Field(default=None, foreign_key="prompt.id", index=True)
    version_id: int | None = Field(default=None, foreign_key="promptversion.id")
    prompt_name: str | None = Field(default=None, max_length=200)
    version_number: int | None = None
    endpoint: str = Field(default="", max_length=100, index=True)
    model: str = Field(default="", max_length=200, index=True)
    params: dict = _json({})
    variables: dict = _json({})
    messages: list = _json([])
    output: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    finish_reason: str | None = Field(default=None, max_length=50)
    status: str = Field(default="ok", max_length=20, index=True)  # ok | error | incomplete
    error_kind: str | None = Field(default=None, max_length=50)
    error_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    http_status: int | None = None
    request_id: str | None = Field(default=None, max_length=200)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    usage_raw: dict | None = _json(None, nullable=True)
    cost_usd: float | None = None  # NULL = unknown price, never 0 for unknown
    latency_ms: float | None = None
    ttft_ms: float | None = None
    attempts: int = 1
    cache_hit: bool = False
    rating: int | None = Field(default=None, index=True)  # +1 / -1 from a human (indexed: sparse, for metrics)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    compare_id: str | None = Field(default=None, max_length=40, index=True)
    batch_job_id: int | None = Field(default=None, index=True)
    actor: str | None = Field(default=None, max_length=200, index=True)  # Identity.label: token:NAME, cli:ana...
    # OpenAI-shaped tool calls [{id, type, function: {name, arguments}}]; None when the answer had none
    tool_calls: list | None = _json(None, nullable=True)
    reasoning: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # thinking text
    reasoning_tokens: int | None = None  # part of completion_tokens (priced with them)
    # Anthropic thinking / redacted_thinking blocks with their signatures, verbatim: a tool turn must send
    # them back unchanged when thinking is on (None for every other answer)
    thinking_blocks: list | None = _json(None, nullable=True)
    parent_run_id: int | None = Field(default=None, index=True)  # the previous turn of a conversation


class Comparison(SQLModel, table=True):
    """A side-by-side comparison: its columns, shared variables and the runs it made (permalink)."""

    id: str = Field(primary_key=True, max_length=40)
    columns: list = _json([])  # [{version_id, model, params}]
    variables: dict = _json({})
    run_ids: list = _json([])
    blind: bool = False
    order: list = _json([])  # column order shown in blind mode
    created_at: datetime = Field(default_factory=utcnow)


class ArenaVote(SQLModel, table=True):
    """A pairwise preference from a (blind) comparison: winner is 'a', 'b' or 'tie'."""

    id: int | None = Field(default=None, primary_key=True)
    compare_id: str | None = Field(default=None, max_length=40, index=True)
    run_a_id: int = Field(foreign_key="run.id")
    run_b_id: int = Field(foreign_key="run.id")
    winner: str = Field(max_length=4)
    blind: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Dataset(SQLModel, table=True):
    """One revision of a named dataset (copy on write: an edit stores a new revision, the old one stays)."""

    __table_args__ = (UniqueConstraint("name", "revision", name="uq_dataset_name_revision"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=200)
    revision: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    parent_id: int | None = Field(default=None, foreign_key="dataset.id")  # the revision this one was made from
    format: str = Field(max_length=10)  # csv | tsv | jsonl | json
    filename: str = Field(default="", max_length=300)
    columns: list = _json([])
    row_count: int = 0
    content_hash: str = Field(max_length=64, index=True)
    encoding: str = Field(default="utf-8", max_length=20)
    warnings: list = _json([])
    created_at: datetime = Field(default_factory=utcnow)


class DatasetRow(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("dataset_id", "idx", name="uq_datasetrow_idx"),)
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    idx: int  # 1-based data row number as the user sees it
    data: dict = _json({})  # column -> text
    asserts: list = _json([])  # promptfoo-style assertions [{type, value}]
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    meta: dict = _json({})


class BatchJob(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    version_ids: list = _json([])
    models: list = _json([])  # ["endpoint/model", ...]
    mapping: dict = _json({})  # variable -> column
    evaluators: list = _json([])  # [{type, value, threshold, ...}]
    judge_model: str | None = Field(default=None, max_length=300)  # for judge evaluators that name no model
    params: dict = _json({})
    repeats: int = 1
    concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    spent_usd: float = 0.0
    mode: str = Field(default="live", max_length=20)  # live | provider
    provider_batch: dict = _json({})  # provider batch ids and status per model
    status: str = Field(default="pending", max_length=20, index=True)
    # pending | running | paused | done | cancelled | failed
    pause_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    total_items: int = 0
    created_by: str = Field(default="", max_length=200)  # identity label of who started it
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class BatchItem(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("job_id", "row_id", "version_id", "model", "repeat", name="uq_batchitem"),
        Index("ix_batchitem_job_state", "job_id", "state"),
    )
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="batchjob.id")
    row_id: int = Field(foreign_key="datasetrow.id")
    row_idx: int
    version_id: int = Field(foreign_key="promptversion.id")
    model: str = Field(max_length=300)
    repeat: int = 0
    state: str = Field(default="pending", max_length=20)  # pending|running|done|error|incomplete
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires: datetime | None = None
    attempts: int = 0
    run_id: int | None = Field(default=None, foreign_key="run.id")
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    passed: bool | None = None  # all evaluators passed (None = no evaluators / not scored)
    score: float | None = None  # mean evaluator score
    cost_usd: float | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Score(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("run_id", "evaluator", name="uq_score_run_evaluator"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    evaluator: str = Field(max_length=200)
    passed: bool | None = None
    score: float | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class Price(SQLModel, table=True):
    """A per-model price override (USD per 1M tokens); bundled prices come from genai-prices."""

    __table_args__ = (UniqueConstraint("provider", "model", name="uq_price_provider_model"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(default="", max_length=100)  # endpoint name or provider id; "" = any
    model: str = Field(max_length=200)
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_per_mtok: float | None = None
    source: str = Field(default="manual", max_length=300)
    effective_date: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=200)


class ResponseCache(SQLModel, table=True):
    """Opt-in response cache: key = hash of endpoint, model, messages and params."""

    key: str = Field(primary_key=True, max_length=64)
    response: dict = _json({})
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class RunRollup(SQLModel, table=True):
    """Hourly totals of runs per dimension, kept current from Run by `lib.metrics_rollup.refresh` (metrics speed).

    Empty dimension values are '' and a run without a version has version_id 0, so the unique key stays exact.
    """

    __table_args__ = (UniqueConstraint("hour", "endpoint", "model", "version_id", "source", "status", "error_kind",
                                       "actor", name="uq_runrollup_key"),)
    id: int | None = Field(default=None, primary_key=True)
    hour: datetime  # leads the unique key, whose index serves range scans
    endpoint: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=200)
    version_id: int = 0
    source: str = Field(default="", max_length=20)
    status: str = Field(default="", max_length=20)
    error_kind: str = Field(default="", max_length=50)
    actor: str = Field(default="", max_length=200)  # who made the calls (Run.actor; '' for none)
    calls: int = 0
    retried: int = 0
    retries: int = 0
    cache_hits: int = 0
    http_429: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0  # over priced runs only; `priced` = how many had a known cost
    priced: int = 0
    latency_sum: float = 0.0
    latency_n: int = 0


class LatencyRollup(SQLModel, table=True):
    """Hourly latency and TTFT histograms per endpoint x model, kept with RunRollup by
    `lib.metrics.hourly.refresh`: percentiles over many runs without reading them.  `bins` is a JSON object
    {bin: runs}, bin = floor(BINS_PER_OCTAVE * log2(ms)) with ms floored at 0.01."""

    __table_args__ = (UniqueConstraint("hour", "endpoint", "model", "kind", name="uq_latencyrollup_key"),)
    id: int | None = Field(default=None, primary_key=True)
    hour: datetime
    endpoint: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=200)
    kind: str = Field(default="latency", max_length=10)  # latency | ttft
    bins: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class RollupMark(SQLModel, table=True):
    """The run id sequence's value at a rollup refresh and when it was read (PostgreSQL's safe watermark)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    seq: int = Field(default=0, sa_type=BigInteger)


class MetricsState(SQLModel, table=True):
    """Small key/value state of the metrics rollup (e.g. the last run id folded in)."""

    key: str = Field(primary_key=True, max_length=50)
    value: int = 0


class PageState(SQLModel, table=True):
    """A page's working state for one person (widget values by key), so a reload or a page switch returns
    exactly what was on screen.  Plain JSON values only; never a key or a secret (no password widgets)."""

    __table_args__ = (UniqueConstraint("owner", "page", name="uq_pagestate_owner_page"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=200)  # the acting identity's name
    page: str = Field(max_length=50)  # the page's key prefix: play, cmp, batch, ...
    state: dict = _json({})
    updated_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who signed in through the login provider, and the role an admin gave them."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)  # lower-cased
    name: str = Field(default="", max_length=200)
    subject: str = Field(default="", max_length=300)  # the provider's `sub`
    role: str | None = Field(default=None, max_length=20)  # None = from settings (admins/editors) or viewer
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Who changed what, when: written in the same transaction as the change; never a key."""

    __table_args__ = (Index("ix_audit_created", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=200, index=True)  # identity label
    actor_kind: str = Field(default="", max_length=20)  # user | cli | local | token | worker
    action: str = Field(max_length=50, index=True)  # e.g. prompt.create, label.move, endpoint.update
    object_type: str = Field(default="", max_length=30)  # prompt | label | endpoint | price | user | job | dataset
    object_id: str = Field(default="", max_length=300)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # before -> after
