"""Comparison tables: side-by-side comparisons (permalinks) and the arena votes made from them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import json_field, utcnow


class Comparison(SQLModel, table=True):
    """A side-by-side comparison: its columns, shared variables and the runs it made (permalink)."""

    id: str = Field(primary_key=True, max_length=40)
    columns: list = json_field([])  # [{version_id, model, params}]
    variables: dict = json_field({})
    run_ids: list = json_field([])
    blind: bool = False
    order: list = json_field([])  # column order shown in blind mode
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
