"""Shared fixtures: a fresh, migrated database per test on SQLite and on a real PostgreSQL.

`engine` is parametrised over both backends; tests that only need one use
`sqlite_engine`.  DATABASE_URL is pointed at the test database so code that
calls `get_engine()` with no argument uses it too.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_SEED_EXAMPLES", "0")
os.environ.setdefault("WORKBENCH_START_WORKER", "0")

from lib import db  # noqa: E402
from lib.settings import get_settings  # noqa: E402
from tests.pgserver import PostgresServer, find_bindir  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the whole session, with a migrated template database."""
    if find_bindir() is None:
        if IN_CI:
            pytest.fail("PostgreSQL binaries are required in CI (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries not installed")
    server = PostgresServer().start()
    from sqlalchemy import text

    admin = db.make_engine(server.url("postgres"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE wb_template"))
    tmpl = db.make_engine(server.url("wb_template"))
    db.upgrade(tmpl)
    tmpl.dispose()
    server.admin = admin
    yield server
    admin.dispose()
    db.dispose_engines()
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file that each test copies (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    eng = db.make_engine(f"sqlite:///{path}")
    db.upgrade(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


def _fresh_sqlite(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "workbench.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def _fresh_pg(server) -> str:
    from sqlalchemy import text

    name = f"wb_test_{os.getpid()}_{next(_counter)}"
    with server.admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE wb_template"))
    return server.url(name)


def _use(url: str, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return db.get_engine(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, monkeypatch, sqlite_template):
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = _fresh_sqlite(sqlite_template, tmp_path)
    else:
        url = _fresh_pg(request.getfixturevalue("pg_server"))
    eng = _use(url, monkeypatch)
    yield eng
    db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def sqlite_engine(tmp_path, monkeypatch, sqlite_template):
    """A fresh migrated SQLite database (for tests where the backend does not matter)."""
    eng = _use(_fresh_sqlite(sqlite_template, tmp_path), monkeypatch)
    yield eng
    db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def pg_engine(monkeypatch, pg_server):
    """A fresh migrated PostgreSQL database."""
    eng = _use(_fresh_pg(pg_server), monkeypatch)
    yield eng
    db.dispose_engines()
    get_settings.cache_clear()
from tests.fakeserver import fake_server  # noqa: F401,E402


def pytest_collection_modifyitems(config, items):
    """Browser journeys last: Playwright's sync API keeps an event loop running in the main thread
    for as long as the browser is open, which would break asyncio.run() in later tests."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path).replace("\\", "/"))
