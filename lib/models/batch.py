"""Batch tables: dataset revisions and their rows, batch jobs and their items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


class Dataset(SQLModel, table=True):
    """One revision of a named dataset (copy on write: an edit stores a new revision, the old one stays)."""

    __table_args__ = (UniqueConstraint("name", "revision", name="uq_dataset_name_revision"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=200)
    revision: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    parent_id: int | None = Field(default=None, foreign_key="dataset.id")  # the revision this one was made from
    format: str = Field(max_length=10)  # csv | tsv | jsonl | json
    filename: str = Field(default="", max_length=300)
    columns: list = json_field([])
    row_count: int = 0
    content_hash: str = Field(max_length=64, index=True)
    encoding: str = Field(default="utf-8", max_length=20)
    warnings: list = json_field([])
    created_at: datetime = Field(default_factory=utcnow)


class DatasetRow(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("dataset_id", "idx", name="uq_datasetrow_idx"),)
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    idx: int  # 1-based data row number as the user sees it
    data: dict = json_field({})  # column -> text
    asserts: list = json_field([])  # promptfoo-style assertions [{type, value}]
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    meta: dict = json_field({})


class BatchJob(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    version_ids: list = json_field([])
    models: list = json_field([])  # ["endpoint/model", ...]
    mapping: dict = json_field({})  # variable -> column
    evaluators: list = json_field([])  # [{type, value, threshold, ...}]
    judge_model: str | None = Field(default=None, max_length=300)  # for judge evaluators that name no model
    params: dict = json_field({})
    repeats: int = 1
    concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    spent_usd: float = 0.0
    mode: str = Field(default="live", max_length=20)  # live | provider
    provider_batch: dict = json_field({})  # provider batch ids and status per model
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
