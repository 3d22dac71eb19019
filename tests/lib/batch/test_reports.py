"""Results table, matrix, pass rates, export round trip and preflight (both backends)."""

from __future__ import annotations

import pytest

from lib.batch import jobs as batch
from lib.batch import planning as preflight
from lib.batch import reports as batch_results
from lib.batch.runner import JobRunner
from lib.client import endpoints, pricing
from lib.datasets import export
from lib.db import session_scope
from tests.actors import ADMIN
from tests.lib.batch_helpers import StandIn, setup_job


def _done_job(engine, **kw) -> int:
    import asyncio

    job_id = setup_job(engine, 5, versions=2, models=("echo/echo", "echo/other"), extra="expected", **kw)
    caller = StandIn(fail_on={"q4?"})
    assert asyncio.run(JobRunner(engine, job_id, caller=caller).run()) == "done"
    return job_id


def test_results_filters_and_pages(engine):
    job_id = _done_job(engine)
    with session_scope(engine) as s:
        rows, total = batch_results.results(session=s, job_id=job_id, page_size=7)
        assert total == 20 and len(rows) == 7
        assert rows[0]["version"] == "qa:1" and rows[0]["inputs"] == {"question": "what is q1?", "answer": "a1"}
        page3, _ = batch_results.results(session=s, job_id=job_id, page=3, page_size=7)
        assert len(page3) == 6
        errors, n_err = batch_results.results(session=s, job_id=job_id, state="error")
        assert n_err == 4 and {r["row"] for r in errors} == {4}
        job = batch.get_job(session=s, job_id=job_id)
        v2 = job.version_ids[1]
        _, n = batch_results.results(session=s, job_id=job_id, version_id=v2, model="echo/other")
        assert n == 5
        passed, n_pass = batch_results.results(session=s, job_id=job_id, passed=True)
        assert n_pass == 16 and all(r["passed"] for r in passed)


def test_matrix_and_pass_rates(engine):
    job_id = _done_job(engine)
    with session_scope(engine) as s:
        rows, cols, total = batch_results.matrix(session=s, job_id=job_id, page_size=2)
        assert total == 5 and len(rows) == 2
        assert cols == ["qa:1 · echo/echo", "qa:1 · echo/other", "qa:2 · echo/echo", "qa:2 · echo/other"]
        assert rows[0]["qa:1 · echo/echo"] == "echo Q: what is q1?"
        assert rows[1]["qa:2 · echo/other"] == "echo v2 what is q2?"
        rows, _, _ = batch_results.matrix(session=s, job_id=job_id, page=2, page_size=3, value="state")
        assert [r["row"] for r in rows] == [4, 5] and rows[0]["qa:1 · echo/echo"] == "error"
        rates = batch_results.pass_rates(session=s, job_id=job_id)
        assert len(rates) == 4
        for r in rates:
            assert r["items"] == 5 and r["done"] == 4 and r["errors"] == 1 and r["pass_rate"] == 1.0


def test_export_round_trip_neutralises_formulas(engine, tmp_path):
    job_id = setup_job(engine, 0 or 2)
    import asyncio

    class Formula(StandIn):
        async def __call__(self, **kw):
            res = await super().__call__(**kw)
            res.text = "=HYPERLINK(\"http://x\",\"y\")" if "q1" in kw["messages"][-1]["content"] else "-5"
            return res

    assert asyncio.run(JobRunner(engine, job_id, caller=Formula()).run()) == "done"
    with session_scope(engine) as s:
        records = list(batch_results.records(session=s, job_id=job_id))
        for fmt in ("csv", "jsonl", "parquet"):
            path = tmp_path / f"out.{fmt}"
            assert batch_results.export_job(session=s, job_id=job_id, dest=path, fmt=fmt) == 2
            back = export.read_back(path)
            assert list(back["output"]) == [r["output"] for r in records]
            assert list(back["row"]) == [1, 2] and list(back["state"]) == ["done", "done"]
        raw = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
        assert "'=HYPERLINK" in raw and ",-5," in raw


def test_preflight_counts_tokens_cost_and_time(engine):
    job_id = setup_job(engine, 10, versions=2)
    with session_scope(engine) as s:
        job = batch.get_job(session=s, job_id=job_id)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="paid", kind="openai", base_url="http://127.0.0.1:9/v1",
                               models=["priced", "mystery"], rpm=60, max_concurrency=4)
        pricing.set_override(actor=ADMIN, session=s, provider="paid", model="priced", input_per_mtok=1.0,
                             output_per_mtok=2.0)
        s.commit()
        pricing.invalidate()
        pf = preflight.preflight(session=s, dataset_id=job.dataset_id, version_ids=job.version_ids,
                                 models=["echo/echo", "paid/priced", "paid/mystery"], repeats=3, concurrency=8,
                                 params={"max_tokens": 100})
    assert pf["rows"] == 10 and pf["calls"] == 10 * 2 * 3 * 3
    by = {m["model"]: m for m in pf["per_model"]}
    assert by["echo/echo"]["cost_usd"] == 0.0 and by["echo/echo"]["input_tokens"] > 0
    priced = by["paid/priced"]
    assert priced["output_tokens"] == 60 * 100 and priced["output_tokens_source"].startswith("max_tokens")
    assert priced["cost_usd"] == pytest.approx((priced["input_tokens"] * 1.0 + 6000 * 2.0) / 1e6)
    assert by["paid/mystery"]["cost_usd"] is None and pf["cost_usd"] is None and not pf["cost_known"]
    assert any("mystery" in n and "unknown" in n for n in pf["notes"])
    assert priced["calls_per_s"] == 1.0 and priced["wall_s"] == 60.0  # rpm 60 bounds it
    assert pf["wall_s"] >= 60.0
