"""AppTest of History: paginated log, filters, search, a run's full record by ?run=ID, re-run, rating."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from lib import db, prompts
from lib.client.model_client import reset_clients
from lib.models import Run, utcnow
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts, values

PAGE = "pages/history.py"


def _seed(engine, n=60):
    with db.session_scope(engine) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                                  "content": "Hi {{who}}"}])
        now = utcnow()
        for i in range(n):
            s.add(Run(source="playground" if i % 2 else "batch", prompt_id=v.prompt_id, version_id=v.id,
                      prompt_name="greet", version_number=1, endpoint="echo", model="echo",
                      params={"temperature": 0.1}, variables={"who": f"user{i}"},
                      messages=[{"role": "user", "content": f"Hi user{i}"}], output=f"[user] Hi user{i}",
                      status="error" if i % 10 == 0 else "ok", error_kind="server" if i % 10 == 0 else None,
                      error_message="boom" if i % 10 == 0 else None, latency_ms=10.0 + i, cost_usd=0.0,
                      created_at=now - timedelta(minutes=n - i), usage_raw={"prompt_tokens": 3}))
        s.commit()
        return v


def _open(query=None):
    reset_clients()
    at = new_app(PAGE, query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at):
    return at.dataframe[0].value


def test_log_is_paginated_and_filtered(engine_for_app):
    _seed(engine_for_app)
    at = _open()
    # #15 item 15: batch runs are hidden by default, and the page says how many
    assert "30 runs · page 1 of 2" in texts(at) and "30 batch runs hidden" in texts(at)
    assert set(_table(at)["source"]) == {"playground"}
    at.toggle(key="hist_with_batch").set_value(True).run()
    assert "60 runs · page 1 of 3" in texts(at) and "batch runs hidden" not in texts(at)
    df = _table(at)
    assert len(df) == 25 and df["run"].iloc[0] == 60  # newest first
    at.number_input(key="hist_page").set_value(3).run()
    assert len(_table(at)) == 10
    at.selectbox(key="hist_status").set_value("error").run()
    assert "6 runs · page 1 of 1" in texts(at)  # page resets when filters change
    assert set(_table(at)["status"]) == {"error"}
    at.selectbox(key="hist_status").set_value("(any)")
    at.selectbox(key="hist_source").set_value("batch").run()
    assert "30 runs" in texts(at)
    at.text_input(key="hist_search").input("user17").run()
    assert "0 runs" in texts(at)  # run 17 was a playground run
    at.selectbox(key="hist_source").set_value("(any)").run()
    assert "1 run ·" in texts(at) and list(_table(at)["run"]) == [18]
    at.text_input(key="hist_search").input("").run()
    at.selectbox(key="hist_prompt").set_value("greet").run()
    at.number_input(key="hist_version").set_value(1).run()
    assert "60 runs" in texts(at)
    at.number_input(key="hist_version").set_value(2).run()
    assert "0 runs" in texts(at)
    at.selectbox(key="hist_model").set_value("echo/echo").run()
    at.number_input(key="hist_version").set_value(0).run()
    assert "60 runs" in texts(at)
    today = utcnow().date()
    at.date_input(key="hist_dates").set_value((today - timedelta(days=3), today - timedelta(days=2))).run()
    assert "0 runs" in texts(at)
    at.date_input(key="hist_dates").set_value((today - timedelta(days=1), today)).run()
    assert "60 runs" in texts(at)  # every seeded run is from the last hour


def test_open_a_run_by_permalink_rate_and_rerun(engine_for_app):
    _seed(engine_for_app, n=3)
    at = _open({"run": "2"})
    page = texts(at)
    assert "Run #2 · ok · playground" in page and "[user] Hi user1" in [c.value for c in at.code]
    assert "greet:1 · echo/echo" in page
    at.text_input(key="hist_note_2").input("nice")
    at.button(key="hist_up_2").click().run()
    with db.session_scope(engine_for_app) as s:
        assert (s.get(Run, 2).rating, s.get(Run, 2).note) == (1, "nice")
    at.button(key="hist_rerun").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with db.session_scope(engine_for_app) as s:
        new = s.exec(select(Run).order_by(Run.id.desc())).first()
    assert new.id == 4 and new.output == "[user] Hi user1" and new.variables == {"who": "user1"}
    assert at.query_params["run"] in (["4"], "4")
    assert any("as run #4" in i for i in values(at.info))
    err = _open({"run": "1"})
    assert any("The call failed: server" in e and "boom" in e for e in values(err.error))
    missing = _open({"run": "999"})
    assert "There is no run #999." in values(missing.error)


def test_a_tool_call_run_shows_its_calls_and_reasoning_not_an_empty_answer(engine_for_app):
    call = {"id": "call_7", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "tea"}'}}
    with db.session_scope(engine_for_app) as s:
        run = Run(source="playground", endpoint="echo", model="echo", messages=[{"role": "user", "content": "?"}],
                  output="", tool_calls=[call], reasoning="Thinking about tea.", reasoning_tokens=5)
        s.add(run)
        s.flush()
        run_id = run.id
    at = _open({"run": str(run_id)})
    page = texts(at)
    assert "Tool call: lookup (call_7)" in page and "(empty answer)" not in page
    assert any('"q": "tea"' in c.value for c in at.code)
    assert "Reasoning (5 tokens)" in [e.label for e in at.expander]
