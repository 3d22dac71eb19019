"""Alembic environment: uses the engine lib.db hands over (or the configured one)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import lib.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from lib.db import get_engine

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine") or get_engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `python -m lib db upgrade`")
run_migrations_online()
