"""Endpoint tables: the model endpoints and the origin each key variable is bound to."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


class Endpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    kind: str = Field(max_length=20)  # openai | anthropic | echo
    base_url: str = Field(default="", max_length=500)
    api_key_env: str | None = Field(default=None, max_length=200)  # NAME of env var / secret
    headers: dict = json_field({})  # extra non-secret headers
    models: list = json_field([])  # static model list (used when /models is unavailable)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int = 8
    timeout_s: float = 60.0
    options: dict = json_field({})  # kind-specific: anthropic_version, echo latency_ms / failure_rate
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
    last_check_models: list = json_field([], nullable=True)  # what it listed (capped), for the model pickers


class KeyBinding(SQLModel, table=True):
    """Where a key variable may be sent: the origin (scheme://host:port) it was first used with."""

    name: str = Field(primary_key=True, max_length=200)  # the key variable's NAME, never its value
    origin: str = Field(max_length=500)
    endpoint: str = Field(default="", max_length=100)  # the endpoint that bound it
    bound_at: datetime = Field(default_factory=utcnow)
