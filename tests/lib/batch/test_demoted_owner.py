"""The worker runs a job on behalf of the person who started it: once that person may no longer run
models (an admin made them a viewer), the job pauses before another call, saying why; once they may run
again, a resume goes on (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlmodel import Session, select

from lib import users
from lib.batch import jobs as batch
from lib.batch import run_job_foreground
from lib.client import endpoints
from lib.db import session_scope
from lib.models import Run
from tests.actors import ADMIN, EDITOR
from tests.lib.batch_helpers import StandIn, setup_job


def test_a_job_whose_starter_became_a_viewer_pauses_before_any_call(engine):
    job_id = setup_job(engine, n=3)
    with Session(engine) as s:
        users.sign_in(session=s, email="boss@example.com")  # the first person: admin
        users.sign_in(session=s, email=ADMIN.email)
        users.set_role(session=s, actor=ADMIN, email=ADMIN.email, role="viewer")  # the starter, now a viewer
        s.commit()
    caller = StandIn()
    assert run_job_foreground(job_id, engine, caller=caller) == "paused"
    assert caller.calls == []
    with Session(engine) as s:
        job = batch.get_job(session=s, job_id=job_id)
        assert f"{ADMIN.email} (role viewer) may no longer run" in job.pause_reason
        assert s.exec(select(Run).where(Run.batch_job_id == job_id)).all() == []
        batch.resume(session=s, actor=EDITOR, job_id=job_id)  # resumed while the starter is still a viewer
        s.commit()
    assert run_job_foreground(job_id, engine, caller=caller) == "paused" and caller.calls == []
    with Session(engine) as s:
        users.set_role(session=s, actor=ADMIN, email=ADMIN.email, role="editor")
        batch.resume(session=s, actor=EDITOR, job_id=job_id)
        s.commit()
    assert run_job_foreground(job_id, engine, caller=caller) == "done"
    assert len(caller.calls) == 3 and {c["on_behalf_of"] for c in caller.calls} == {ADMIN.label}


def test_someone_who_never_signed_in_is_not_checked(engine):
    """Jobs started from the CLI, a token or a test identity have no sign-in row: nothing to re-check."""
    job_id = setup_job(engine, n=2)
    assert run_job_foreground(job_id, engine, caller=StandIn()) == "done"


def test_a_provider_batch_job_of_a_demoted_starter_submits_nothing(sqlite_engine, batch_server):
    with session_scope(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=batch_server.url + "/v1",
                               api_key_env="FAKE_KEY")
    job_id = setup_job(sqlite_engine, 3, models=("fake/fake-model",), mode="provider")
    with Session(sqlite_engine) as s:
        users.sign_in(session=s, email="boss@example.com")
        users.sign_in(session=s, email=ADMIN.email)
        users.set_role(session=s, actor=ADMIN, email=ADMIN.email, role="viewer")
        s.commit()
    assert run_job_foreground(job_id, sqlite_engine) == "paused"
    assert not any(r.path in ("/v1/files", "/v1/batches") for r in batch_server.requests)
    with Session(sqlite_engine) as s:
        assert "may no longer run" in batch.get_job(session=s, job_id=job_id).pause_reason
