"""Run tables: model calls and their scores, the response cache, price overrides and the metrics rollups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


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
    params: dict = json_field({})
    variables: dict = json_field({})
    messages: list = json_field([])
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
    usage_raw: dict | None = json_field(None, nullable=True)
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
    tool_calls: list | None = json_field(None, nullable=True)
    reasoning: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # thinking text
    reasoning_tokens: int | None = None  # part of completion_tokens (priced with them)
    # Anthropic thinking / redacted_thinking blocks with their signatures, verbatim: a tool turn must send
    # them back unchanged when thinking is on (None for every other answer)
    thinking_blocks: list | None = json_field(None, nullable=True)
    parent_run_id: int | None = Field(default=None, index=True)  # the previous turn of a conversation


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
    response: dict = json_field({})
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class RunRollup(SQLModel, table=True):
    """Hourly totals of runs per dimension, kept current from Run by `lib.metrics.hourly.refresh` (metrics speed).

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
