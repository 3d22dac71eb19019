from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

import lib.models as m
from lib import db


def test_migrations_match_models(engine):
    """The migrated schema equals the models: no drift between Alembic and SQLModel."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert db.current_revision(engine) == db.head_revision()


def test_roundtrip_and_aware_timestamps(engine):
    with Session(engine) as s:
        p = m.Prompt(name="x", tags=["a"])
        s.add(p)
        s.commit()
        got = s.exec(select(m.Prompt)).one()
    assert got.tags == ["a"] and got.created_at.tzinfo is not None


def test_sqlite_is_wal(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_redact_url():
    assert "secret" not in db.redact_url("postgresql+psycopg://u:secret@h:5432/d")
    shown = db.redact_url("postgresql+psycopg://u@h/d?sslmode=require&password=hunter2")
    assert "hunter2" not in shown and "sslmode=require" in shown
    assert db.normalise_url("postgres://u@h/d").startswith("postgresql+psycopg://")


def test_info(engine):
    info = db.database_info(engine)
    assert info["revision"] == db.head_revision() and info["size_bytes"] > 0


def test_downgrade_to_base_and_back(engine):
    from alembic import command
    from sqlalchemy import inspect

    command.downgrade(db._alembic_config(engine), "base")
    assert db.current_revision(engine) is None
    assert "prompt" not in inspect(engine).get_table_names()
    assert db.upgrade(engine) == db.head_revision()
    assert {"prompt", "run", "runrollup"} <= set(inspect(engine).get_table_names())
