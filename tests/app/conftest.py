"""Fixtures shared by every AppTest file: a temp database, cleared Streamlit caches, and `open_page`.

`open_page("pages/prompts.py")` runs app.py once (bootstrap, navigation, sidebar), switches to
the page and runs it again, returning the AppTest.  Example prompts are off unless a test
asks for the `examples` fixture.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import db
from lib.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def clear_streamlit_caches():
    """Each test starts with empty st.cache_data / st.cache_resource (engines differ per test)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def navigation_v2(monkeypatch):
    """Run app.py on every rerun, as the real server does once st.navigation has been called.

    AppTest resets `PagesManager.uses_pages_directory` before each run and, because the
    repo has a pages/ folder, falls back to legacy pages-directory mode: reruns would then
    execute the page file alone, skipping app.py (bootstrap, sidebar, navigation).
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
    yield
    PagesManager.uses_pages_directory = None


@pytest.fixture
def app_db(tmp_path, monkeypatch, sqlite_template) -> str:
    """A fresh migrated SQLite file in DATABASE_URL, no examples, no background worker."""
    import shutil

    path = tmp_path / "app.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_SEED_EXAMPLES", os.environ.get("WORKBENCH_SEED_EXAMPLES", "0"))
    monkeypatch.setenv("WORKBENCH_START_WORKER", "0")
    monkeypatch.setenv("WORKBENCH_AUTHOR", "tester")
    get_settings.cache_clear()
    yield url
    db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def examples(monkeypatch):
    """Seed the example prompts on start-up (use before `app_db` in the argument list)."""
    monkeypatch.setenv("WORKBENCH_SEED_EXAMPLES", "1")
    get_settings.cache_clear()


@pytest.fixture
def engine_for_app(app_db):
    """The engine of the app's database (for arranging data and checking results)."""
    from lib.bootstrap import launch as bootstrap

    eng = db.get_engine(app_db)
    bootstrap.startup(eng)
    return eng


def new_app(page: str | None = None, query: dict | None = None) -> AppTest:
    """An AppTest of app.py, run once, switched to `page` (relative to the repo) and run again."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page)
        at.run()
    return at


@pytest.fixture
def open_page(app_db) -> Callable[..., AppTest]:
    """Factory: open_page("pages/prompts.py") -> a run AppTest on that page with no exception."""
    def _open(page: str | None = None, query: dict | None = None) -> AppTest:
        at = new_app(page, query)
        assert not at.exception, [e.value for e in at.exception]
        return at

    return _open


def plain(text: str) -> str:
    """Markdown-escaped text (lib.ui_state.md_escape) back to what the user reads."""
    return re.sub(r"\\([\\`*_{}\[\]()<>#+\-.!|~$:])", r"\1", str(text))


def values(elements) -> list[str]:
    """The readable values of a list of elements (e.g. at.success)."""
    return [plain(e.value) for e in elements]


def texts(at: AppTest) -> str:
    """Every text-ish element's readable value on the page, joined (for 'shows X' assertions)."""
    parts: list[str] = []
    for kind in ("markdown", "text", "code", "caption", "error", "success", "info", "warning", "subheader",
                 "title", "header"):
        parts += values(getattr(at, kind))
    return "\n".join(parts)
