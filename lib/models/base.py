"""Helpers shared by the table modules: `utcnow()` and `json_field()` (a JSON column with a fresh default)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field


def utcnow() -> datetime:
    """Current time, aware, in UTC (what every table stores)."""
    return datetime.now(UTC)


def json_field(default: Any = None, nullable: bool = False):
    """A JSON column whose default is a new empty value of `default`'s type (or None when `default` is None)."""
    return Field(default_factory=(lambda: type(default)()) if default is not None else (lambda: None),
                 sa_column=Column(JSON, nullable=nullable))
