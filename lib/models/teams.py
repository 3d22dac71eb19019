"""Team tables: users and their roles, the audit trail, API tokens and each person's saved page state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


class ApiToken(SQLModel, table=True):
    """A workbench API token: only its sha256 is stored (the token is shown once, at creation)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    token_hash: str = Field(index=True, unique=True, max_length=64)  # sha256 hex of the whole token
    prefix: str = Field(default="", max_length=16)  # first characters, to recognise a token in a list
    scopes: list = json_field([])  # read | run | write
    rpm: int | None = None  # requests per minute for this token; None = the default
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class PageState(SQLModel, table=True):
    """A page's working state for one person (widget values by key), so a reload or a page switch returns
    exactly what was on screen.  Plain JSON values only; never a key or a secret (no password widgets)."""

    __table_args__ = (UniqueConstraint("owner", "page", name="uq_pagestate_owner_page"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=200)  # the acting identity's name
    page: str = Field(max_length=50)  # the page's key prefix: play, cmp, batch, ...
    state: dict = json_field({})
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
