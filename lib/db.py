"""Engine, sessions and migrations.

SQLite (default, `data/workbench.db`) runs in WAL mode with a busy timeout and
foreign keys on; PostgreSQL is selected with DATABASE_URL (psycopg 3).
No engine exists at import time; `get_engine()` makes one per URL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func, inspect
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from lib.settings import ROOT, get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// shorthands and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|sslpassword|token|secret)=)[^&]*")


def redact_url(url: str) -> str:
    """The URL with its password (in the authority or the query string) replaced by ***."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:
        shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    return _SECRET_QUERY.sub(r"\1***", shown)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """A new engine for `url` with the workbench's connection settings."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database)."""
    url = normalise_url(url or get_settings().resolved_database_url())
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked workers)."""
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def fetch_page(session: Session, stmt, *, order_by: tuple, offset: int, limit: int) -> tuple[list, int]:
    """One page of `stmt` (a filtered select of one table): its rows in `order_by` order from `offset`, at most
    `limit`, and how many rows `stmt` matches in all (a count over the same table and WHERE clause)."""
    total = session.exec(stmt.with_only_columns(func.count(), maintain_column_froms=True)).one()
    rows = session.exec(stmt.order_by(*order_by).offset(offset).limit(limit))
    return list(rows), int(total)


def _alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine | None = None, revision: str = "head") -> str | None:
    """Apply migrations up to `revision`; returns the revision now in force."""
    from alembic import command

    engine = engine or get_engine()
    with _lock_for(engine):
        command.upgrade(_alembic_config(engine), revision)
    return current_revision(engine)


_upgrade_locks: dict[str, threading.Lock] = {}


def _lock_for(engine: Engine) -> threading.Lock:
    with _lock:
        return _upgrade_locks.setdefault(str(engine.url), threading.Lock())


def current_revision(engine: Engine | None = None) -> str | None:
    """The Alembic revision of the database, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with (engine or get_engine()).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(get_engine())).get_current_head()


def database_info(engine: Engine | None = None) -> dict:
    """URL (password redacted), dialect, size in bytes (SQLite file or pg_database_size) and revision."""
    from sqlalchemy import text

    engine = engine or get_engine()
    size = None
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if path and Path(path).exists():
            size = Path(path).stat().st_size + sum(
                p.stat().st_size for p in Path(path).parent.glob(Path(path).name + "-wal"))
    else:
        with engine.connect() as conn:
            size = conn.execute(text("select pg_database_size(current_database())")).scalar()
    return {"url": redact_url(str(engine.url.render_as_string(hide_password=False))),
            "dialect": engine.dialect.name, "size_bytes": size,
            "revision": current_revision(engine), "tables": len(inspect(engine).get_table_names())}


def engine_of(session_or_engine: Session | Engine | None) -> Engine:
    """The engine behind a session or engine (None: the configured database)."""
    if session_or_engine is None:
        return get_engine()
    if isinstance(session_or_engine, Session):
        return session_or_engine.get_bind()
    return session_or_engine
