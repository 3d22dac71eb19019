"""AppTest of the app shell: start-up, navigation, sidebar (database, endpoints, headline) and Home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import db
from lib.bootstrap.examples import EXAMPLES
from lib.client import endpoints
from lib.models import Run
from lib.ui import md_escape
from tests.actors import ADMIN
from tests.app.conftest import APP, TIMEOUT, new_app, texts

ROOT = Path(__file__).resolve().parents[2]


def _runs(engine, n: int, **kw) -> None:
    with db.session_scope(engine) as s:
        for i in range(n):
            s.add(Run(source="playground", endpoint="echo", model="echo", output=f"out {i}",
                      status="error" if i == 0 else "ok", latency_ms=10.0 + i, prompt_name="greet",
                      version_number=1, cost_usd=0.0, **kw))


def test_home_starts_with_sidebar_and_every_page_registered(engine_for_app):
    at = new_app()
    assert [t.value for t in at.title] == ["Prompt Workbench"]
    side = at.sidebar
    assert any(str(engine_for_app.url.database) in c.value for c in side.code)
    assert any("**echo** offline" in m.value for m in side.markdown)
    for page in sorted((ROOT / "pages").glob("*.py")):
        at.switch_page(f"pages/{page.name}")  # raises ValueError if st.navigation did not register it
    assert not list((ROOT / "pages").glob("_*.py")), "shared view code lives in pages/_views/"
    with pytest.raises(ValueError):
        at.switch_page("pages/_views/prompt_editor.py")  # helper modules are not pages
    for page in ("pages/prompts.py", "pages/settings.py", "pages/home.py"):
        at.switch_page(page).run()
        assert not at.exception and side is not None and at.sidebar.code, page


def test_home_shows_counts_and_recent_runs_bounded(engine_for_app):
    _runs(engine_for_app, 15)
    at = new_app()
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Prompts"] == "0" and metrics["Endpoints"] == "1" and metrics["Runs (24 h)"] == "15"
    table = at.dataframe[0].value
    assert len(table) == 10 and list(table["id"]) == sorted(table["id"], reverse=True)
    assert set(table["status"]) <= {"ok", "error"}
    headline = {m.label: m.value for m in at.sidebar.metric}
    assert headline.get("Calls") == "15" and headline.get("Errors") == "6.7%"
    # the headline is cached for a few seconds: it says when it was read
    assert any(re.fullmatch(r"Last 24 h, as of \d\d:\d\d:\d\d UTC", c.value) for c in at.sidebar.caption)


def test_examples_are_seeded_on_first_start(examples, app_db):
    at = new_app()
    assert {m.label: m.value for m in at.main.metric}["Prompts"] == str(len(EXAMPLES))
    at.switch_page("pages/prompts.py").run()
    assert not at.exception
    assert len([b for b in at.button if b.key.startswith("prompts_pick_")]) == len(EXAMPLES)


def test_sidebar_flags_a_missing_key(engine_for_app, monkeypatch):
    monkeypatch.delenv("WB_ABSENT_KEY", raising=False)
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="remote", kind="openai",
                               base_url="https://api.example.test/v1",
                               api_key_env="WB_ABSENT_KEY")
    at = new_app()
    lines = "\n".join(m.value for m in at.sidebar.markdown).splitlines()
    line = next(x.strip() for x in lines if "remote" in x)
    assert line.startswith(":material/error:") and "WB\\_ABSENT\\_KEY missing" in line


def test_sidebar_says_an_endpoint_was_never_tested(engine_for_app):
    """An endpoint with its key state fine but no Test yet is not shown with the check of a passed test."""
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="local", kind="openai", base_url="http://127.0.0.1:9/v1")
    at = new_app()
    line = next(x.strip() for x in "\n".join(m.value for m in at.sidebar.markdown).splitlines() if "local" in x)
    assert line.startswith(":material/radio_button_unchecked:") and line.endswith("no key · not tested"), line


def test_sidebar_never_shows_a_green_check_for_a_failed_test(engine_for_app):
    """#15 item 11: the echo endpoint's key state is fine, but its last test failed: the sidebar says so."""
    from datetime import UTC, datetime

    at = new_app()
    line = next(x.strip() for x in "\n".join(m.value for m in at.sidebar.markdown).splitlines() if "echo" in x)
    assert line.startswith(":material/check_circle:") and "failed" not in line, line  # never tested: key state
    with db.session_scope(engine_for_app) as s:  # the last test, as the Settings page keeps it
        endpoints.record_check(actor=ADMIN, session=s, name="echo", result={
            "ok": False, "error": "unreachable: cannot connect to echo", "error_kind": "unreachable",
            "at": datetime(2026, 12, 1, 12, 0, tzinfo=UTC)})
    at = new_app()  # a reload: the result comes from the database, not the session
    line = next(x.strip() for x in "\n".join(m.value for m in at.sidebar.markdown).splitlines() if "echo" in x)
    assert line.startswith(":material/error:") and md_escape("failed (unreachable) 2026-12-01 12:00 UTC") in line, \
        line


def test_unreachable_database_is_a_message_not_a_traceback(monkeypatch):
    from lib.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://wb:hunter2secret@127.0.0.1:1/nowhere")
    get_settings.cache_clear()
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    finally:
        db.dispose_engines()
        get_settings.cache_clear()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "could not open its database" in msg and "hunter2secret" not in msg and "***" in msg
    assert "hunter2secret" not in texts(at)


def test_home_first_step_links_and_no_raw_none(examples, app_db):
    """#15 item 13: a first-step button, a line saying the examples exist, links to every page, no
    'Database' headline number, and Recent runs without raw None."""
    at = new_app()
    assert "Database" not in {m.label for m in at.main.metric}
    assert any("Example prompts and datasets are ready" in i.value for i in at.info)
    labels = {p.proto.label for p in at.get("page_link")}
    assert len(labels) == 7 and {"Run a batch on a dataset", "See metrics", "Endpoints and settings"} <= labels
    at.button(key="home_try_example").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="play_prompt").value == "support-reply"
    with db.session_scope(db.get_engine(app_db)) as s:  # a run with no latency and no known cost
        s.add(Run(source="cli", endpoint="x", model="y", status="error"))
    at.switch_page("pages/home.py").run()
    table = at.dataframe[0].value
    assert table.iloc[0]["latency"] == "unknown" and table.iloc[0]["cost"] == "unknown"
    assert table.iloc[0]["prompt"] == "ad-hoc" and not table.isin(["None"]).any().any()


def test_sidebar_says_no_calls_instead_of_unknown_metrics(engine_for_app):
    at = new_app()
    assert not at.exception
    assert not [m for m in at.sidebar.metric if m.label in ("Errors", "p95", "Spend")]
    assert any(c.value.startswith("No calls yet") for c in at.sidebar.caption)
