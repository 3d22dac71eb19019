"""AppTest of the Batch results grid: coloured cells, failures only, evaluator filter, a cell's details, a grade."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from lib.batch import pass_rates, results_grid, run_job_foreground
from lib.client.model_client import reset_clients
from lib.db import get_engine, session_scope
from tests.app.conftest import ROOT, texts
from tests.lib.batch_helpers import setup_job

PAGE = str(ROOT / "pages" / "batch.py")


def _grid(at):
    return next(d for d in at.dataframe if "qa:2 · echo/echo" in d.value.columns and "inputs" in d.value.columns)


def test_grid_colours_filters_details_and_grade(app_db):
    eng = get_engine(app_db)
    job = setup_job(eng, 3, versions=2, evaluators=[{"type": "contains", "value": "Q:"}])
    assert run_job_foreground(job, eng) == "done"
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    grid = _grid(at).value
    assert list(grid["row"]) == ["1", "2", "3"]
    assert all(v.startswith("✅ pass · ") for v in grid["qa:1 · echo/echo"])
    assert all(v.startswith("❌ fail · ") for v in grid["qa:2 · echo/echo"])
    assert "None" not in " ".join(grid.astype(str).to_numpy().ravel())
    # clicking a cell opens it (a programmatic single-cell selection, as a click makes)
    at.session_state["batch_grid_table"] = {"selection": {"rows": [], "columns": [],
                                                          "cells": [(1, "qa:2 · echo/echo")]}}
    at.run()
    assert at.selectbox(key="batch_grid_cell").value == "row 2 · qa:2 · echo/echo"
    assert any("v2 what is q2?" in c.value for c in at.code)
    # the cell opens: answer, each evaluator's verdict and reason, tokens, cost, latency
    at.selectbox(key="batch_grid_cell").set_value("row 1 · qa:2 · echo/echo").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cost"] in ("$0", "unknown") and metrics["Latency"].endswith(("ms", "s"))
    assert "in /" in metrics["Tokens"] and metrics["Score"] == "0.000"
    verdicts = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(verdicts["verdict"]) == ["fail"] and verdicts["reason"][0]
    assert any("v2 what is q1?" in c.value for c in at.code)
    # a manual grade: stored as a human score, counted in the pass rates
    at.text_input(key=f"batch_grade_reason_{_item(eng, job)}").set_value("acceptable").run()
    at.button(key=f"batch_grade_pass_{_item(eng, job)}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with session_scope(eng) as s:
        assert {r["version"]: r["passed"] for r in pass_rates(session=s, job_id=job)} == {"qa:1": 3, "qa:2": 1}
    assert "Human grade: pass" in texts(at)
    grid = _grid(at).value
    assert grid["qa:2 · echo/echo"][0].startswith("✅ pass")
    # failures only: the graded case drops out; the evaluator filter lists the human grade too
    at.toggle(key="batch_grid_failures").set_value(True).run()
    assert list(_grid(at).value["row"]) == ["2", "3"]
    assert "human" in at.selectbox(key="batch_grid_eval").options
    at.selectbox(key="batch_grid_eval").set_value("human").run()
    assert not at.exception and "No failing case" in texts(at)
    reset_clients()


def _item(eng, job):
    with session_scope(eng) as s:
        rows, _, _ = results_grid(session=s, job_id=job)
        return rows[0]["cells"]["qa:2 · echo/echo"]["item_id"]
