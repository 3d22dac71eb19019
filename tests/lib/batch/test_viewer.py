"""The results viewer: grid of cases x (version x model), failures only, evaluator filter, cell details, grades."""

from __future__ import annotations

from lib.batch import (
    clear_grade,
    evaluators_of,
    grade_item,
    item_detail,
    pass_rates,
    results_grid,
    run_job_foreground,
)
from lib.compare import check_gate
from lib.db import session_scope
from lib.errors import ValidationError
from tests.actors import ADMIN
from tests.lib.batch_helpers import setup_job


def _job(engine):
    # 4 rows x 2 versions on echo; v1 says "Q: what is qN?", v2 "v2 what is qN?"; rows 1-2 expect their own qN
    job = setup_job(engine, 4, versions=2, evaluators=[{"type": "contains", "value": "Q:"}], extra="expected")
    assert run_job_foreground(job, engine) == "done"
    return job


def test_grid_cells_failures_only_and_evaluator_filter(engine):
    job = _job(engine)
    with session_scope(engine) as s:
        rows, cols, total = results_grid(session=s, job_id=job)
        assert cols == ["qa:1 · echo/echo", "qa:2 · echo/echo"] and total == 4 and len(rows) == 4
        first = rows[0]
        assert first["inputs"] == {"question": "what is q1?", "answer": "a1"}
        v1, v2 = first["cells"]["qa:1 · echo/echo"], first["cells"]["qa:2 · echo/echo"]
        assert (v1["outcome"], v2["outcome"]) == ("pass", "fail")  # v2 lacks "Q:"
        assert "what is q1?" in v1["short"] and v1["latency_ms"] is not None and v1["prompt_tokens"] is not None
        names = evaluators_of(session=s, job_id=job)
        assert names == ["contains:Q:", "contains:q1", "contains:q2", "contains:q3", "contains:q4"]
        rows, _, total = results_grid(session=s, job_id=job, failures_only=True)
        assert total == 4  # every case has a failing v2 cell
        # judged by the row's own expectation alone, nothing fails: both versions repeat the question
        rows, _, total = results_grid(session=s, job_id=job, failures_only=True, evaluator="contains:q1")
        assert total == 0 and rows == []
        rows, _, total = results_grid(session=s, job_id=job, evaluator="contains:q1")
        assert rows[0]["cells"]["qa:2 · echo/echo"]["outcome"] == "pass"
        assert rows[1]["cells"]["qa:2 · echo/echo"]["outcome"] == "unscored"  # row 2 has no contains:q1
        rows, _, total = results_grid(session=s, job_id=job, page=2, page_size=3)
        assert [r["row"] for r in rows] == [4] and total == 4


def test_cell_details_and_a_human_grade_counts_everywhere(engine):
    job = _job(engine)
    with session_scope(engine) as s:
        rows, _, _ = results_grid(session=s, job_id=job)
        item = rows[0]["cells"]["qa:2 · echo/echo"]["item_id"]
        d = item_detail(session=s, item_id=item)
        assert d["passed"] is False and d["human"] is None and "what is q1?" in d["output"]
        assert {e["evaluator"]: e["passed"] for e in d["evaluators"]} == {"contains:Q:": False, "contains:q1": True}
        assert all(e["reason"] for e in d["evaluators"])
        before = {r["version"]: r["passed"] for r in pass_rates(session=s, job_id=job)}
        assert before == {"qa:1": 4, "qa:2": 0}
        d = grade_item(session=s, actor=ADMIN, item_id=item, passed=True, reason="fine for us", who="ann")
        s.commit()
        assert d["passed"] is True and d["human"]["reason"] == "ann: fine for us" and d["score"] == 1.0
        after = {r["version"]: r["passed"] for r in pass_rates(session=s, job_id=job)}
        assert after == {"qa:1": 4, "qa:2": 1}
        assert "human" in evaluators_of(session=s, job_id=job)
        gate = check_gate(session=s, job_id=job, fail_under=0.6)
        assert gate.passed_items == 5 and gate.pass_rate == 5 / 8
        # a second grade replaces the first; clearing restores the evaluators' verdict
        d = grade_item(session=s, actor=ADMIN, item_id=item, passed=False, reason="no")
        assert d["passed"] is False and d["human"]["reason"] == f"{ADMIN.label}: no"
        d = clear_grade(session=s, actor=ADMIN, item_id=item)
        s.commit()
        assert d["passed"] is False and d["human"] is None and d["score"] == 0.5


def test_only_answered_items_can_be_graded(engine):
    job = setup_job(engine, 2, models=("nowhere/x",))
    assert run_job_foreground(job, engine) == "done"
    with session_scope(engine) as s:
        rows, _, _ = results_grid(session=s, job_id=job)
        cell = rows[0]["cells"]["qa:1 · nowhere/x"]
        assert cell["outcome"] == "error" and "nowhere" in cell["short"]
        try:
            grade_item(session=s, actor=ADMIN, item_id=cell["item_id"], passed=True)
        except ValidationError as exc:
            assert "only an answered item can be graded" in str(exc)
        else:
            raise AssertionError("grading an errored item must fail")
