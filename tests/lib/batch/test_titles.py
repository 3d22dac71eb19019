"""The batch job picker's one-line titles: date, versions, models, evaluators, status (#15 item 15)."""

from __future__ import annotations

from sqlmodel import Session

from lib import batch
from tests.lib.batch_helpers import setup_job


def test_a_job_title_names_when_versions_models_and_evaluators(engine):
    job_id = setup_job(engine, n=2, versions=2, models=("echo/echo", "echo/other"), name="titled",
                       evaluators=[{"type": "contains", "value": "a"}, {"type": "is-json"},
                                   {"type": "contains", "value": "b", "negate": True}])
    plain = setup_job(engine, n=1, name="plain")
    with Session(engine) as s:
        jobs = batch.list_jobs(session=s)
        titles = batch.job_titles(session=s, jobs=jobs)
        created = batch.get_job(session=s, job_id=job_id).created_at.strftime("%Y-%m-%d %H:%M UTC")
    assert titles[job_id] == (f"#{job_id} titled · {created} · titled:1, titled:2 · echo/echo, echo/other · "
                              "contains, is-json, not-contains · pending")
    assert titles[plain].endswith("plain:1 · echo/echo · no job-wide evaluators · pending"), titles[plain]
