"""Webhook tables: the webhooks, their outbox of events to deliver and each delivery attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


class Webhook(SQLModel, table=True):
    """A URL told about label moves and new versions, each POST signed with HMAC-SHA256 of its body."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=1000)
    secret: str = Field(max_length=100)  # the signing secret (ours, shown once; not a provider key)
    events: list = json_field([])  # label.moved, version.created; empty = every event
    active: bool = True
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One attempt to deliver one event to one webhook, with its outcome."""

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    event_id: str = Field(max_length=40, index=True)
    event: str = Field(max_length=50)
    payload: dict = json_field({})
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
