"""Journey (#15 item 17): pause a running batch job from the Batch page, then resume it to the end."""

from __future__ import annotations

from sqlmodel import select

from lib import datasets, db, prompts
from lib.batch import jobs as batch
from lib.client import endpoints
from lib.models import Endpoint
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle


def _arrange(app) -> int:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Endpoint).where(Endpoint.name == "slow-echo")).first() is None:
            endpoints.add_endpoint(actor=ADMIN, session=s, name="slow-echo", kind="echo", models=["echo"],
                                   options={"latency_ms": 1500})
        v = prompts.create_prompt(actor=ADMIN, session=s, name="controls-journey",
                                  messages=[{"role": "user", "content": "Say {{word}}."}])
        rows = "word\n" + "\n".join(f"w{i}" for i in range(8)) + "\n"
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=rows.encode(), filename="controls.csv")
        job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id], models=["slow-echo/echo"],
                           evaluators=[], concurrency=1)
        s.commit()
        return job.id


def _metric(page, label: str):
    return page.locator("[data-testid=stMain] [data-testid=stMetric]").filter(
        has=page.get_by_text(label, exact=True))


def test_pause_and_resume_a_running_job(page, streamlit_app, shot):
    job_id = _arrange(streamlit_app)
    goto(page, streamlit_app, "batch")
    page.get_by_text("Jobs", exact=True).scroll_into_view_if_needed()
    expect(_metric(page, "Status")).to_contain_text("running", timeout=30_000)
    page.get_by_role("button", name="Pause").click()
    wait_idle(page)
    expect(_metric(page, "Status")).to_contain_text("paused", timeout=15_000)
    with db.session_scope(streamlit_app.engine()) as s:
        assert batch.get_job(session=s, job_id=job_id).status == "paused"
        left = batch.counts(session=s, job_id=job_id)["pending"]
    assert left > 0, "the job finished before it could be paused"
    page.get_by_role("button", name="Pause").scroll_into_view_if_needed()
    shot("paused")
    page.get_by_role("button", name="Resume").click()
    wait_idle(page)
    expect(_metric(page, "Status")).to_contain_text("done", timeout=60_000)
    expect(_metric(page, "Done")).to_contain_text("8")
    shot("resumed-to-the-end")
    assert page.dialogs == []
