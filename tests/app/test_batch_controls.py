"""#15 item 17: Pause, Resume (with a higher budget after a budget stop), Cancel and Retry failed, driven
on the Batch page; and #15 item 8: a job with failed items says so in its status."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from lib import prompts
from lib.batch import jobs as batch
from lib.client.model_client import reset_clients
from lib.datasets import store as datasets
from lib.db import get_engine, session_scope
from lib.models import BatchItem, BatchJob
from tests.actors import ADMIN
from tests.app.conftest import ROOT

PAGE = str(ROOT / "pages" / "batch.py")


@pytest.fixture
def job(app_db, monkeypatch):
    monkeypatch.setenv("WORKBENCH_START_WORKER", "0")
    eng = get_engine(app_db)
    with session_scope(eng) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="qa", messages=[{"role": "user",
                                  "content": "Q: {{question}}"}])
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"question\na\nb\nc\n", filename="qa.csv")
        j = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id], models=["echo/echo"],
                         evaluators=[],
                         budget_usd=0.01)
        job_id = j.id
    yield eng, job_id
    reset_clients()


def _at() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _status(eng, job_id) -> BatchJob:
    with session_scope(eng) as s:
        return batch.get_job(session=s, job_id=job_id)


def test_pause_resume_cancel_and_retry_failed(job):
    eng, job_id = job
    at = _at()
    at.button(key="batch_pause").click().run()
    assert _status(eng, job_id).status == "paused"
    assert {m.label: m.value for m in at.metric}["Status"] == "paused"
    at.button(key="batch_resume").click().run()
    assert not at.exception and _status(eng, job_id).status == "pending"
    at.button(key="batch_cancel").click().run()
    assert _status(eng, job_id).status == "cancelled"
    with session_scope(eng) as s:  # two items failed while it ran
        ids = [i.id for i in s.query(BatchItem).filter(BatchItem.job_id == job_id).limit(2)]
        s.execute(update(BatchItem).where(BatchItem.id.in_(ids)).values(state="error"))
    at.run()
    assert {m.label: m.value for m in at.metric}["Status"] == "cancelled with 2 errors"
    assert any("2 of 3 items failed" in e.value for e in at.error)
    at.button(key="batch_retry").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with session_scope(eng) as s:
        assert batch.counts(session=s, job_id=job_id)["error"] == 0


def test_a_job_paused_by_its_budget_resumes_with_a_higher_one(job):
    eng, job_id = job
    with session_scope(eng) as s:
        s.execute(update(BatchJob).where(BatchJob.id == job_id).values(
            status="paused", spent_usd=0.01, pause_reason="budget of $0.01 reached"))
    at = _at()
    box = at.number_input(key=f"batch_new_budget_{job_id}")
    assert box.value == pytest.approx(0.02)  # offered: twice the spent budget
    box.set_value(0.05).run()
    at.button(key="batch_resume").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_row = _status(eng, job_id)
    assert job_row.status == "pending" and job_row.budget_usd == pytest.approx(0.05)
    assert not any("resume with a higher budget" in e.value for e in at.error)
