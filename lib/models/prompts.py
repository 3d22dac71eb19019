"""Prompt tables: prompts, their numbered versions, labels and the history of label moves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


class Prompt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    tags: list = json_field([])
    archived: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class PromptVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("prompt_id", "number", name="uq_version_prompt_number"),
                      Index("ix_version_prompt_hash", "prompt_id", "content_hash"))
    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    number: int
    messages: list = json_field([])
    template_format: str = Field(default="mustache", max_length=20)
    variables: list = json_field([])
    model: str | None = Field(default=None, max_length=300)  # "endpoint/model"
    params: dict = json_field({})
    model_overrides: dict = json_field({})
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
