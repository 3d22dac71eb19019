"""Provider-batch HTTP calls go through the provider classes and the executor (#10 item 5, #11 item 12):
the endpoint's retry policy, the one key scrubber, and error paths that never pay twice."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.batch import provider_batch, worker
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.db import session_scope
from lib.models import Run
from tests.actors import ADMIN
from tests.fake_batch_api import install
from tests.fakefaults import Fault
from tests.fakeserver import FakeServer
from tests.lib.batch_helpers import setup_job

KEY = "sk-test-provider-batch-calls-0123456789"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROVIDER_POLL_S", "0.05")
    monkeypatch.setenv("FAKE_KEY", KEY)
    srv = install(FakeServer().start())
    yield srv
    srv.stop()
    reset_clients()


def _job(engine, server, n: int = 3) -> int:
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")
    return setup_job(engine, n, models=("fake/fake-model",), mode="provider")


def _posts(server, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path == path)


def test_upload_503_is_retried_by_the_policy(sqlite_engine, server):
    job_id = _job(sqlite_engine, server)
    server.script(Fault(status=503, path="/v1/files"))
    assert worker.run_job_foreground(job_id, sqlite_engine) == "done"
    assert _posts(server, "/v1/files") == 2 and _posts(server, "/v1/batches") == 1
    upload = [r for r in server.requests if r.path == "/v1/files"][-1]
    assert upload.headers["Authorization"] == f"Bearer {KEY}"  # the provider's auth header, read per request


def test_key_echoed_by_batch_create_is_masked_in_the_pause_reason(sqlite_engine, server):
    job_id = _job(sqlite_engine, server)
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request"}})
    server.script(Fault(status=400, path="/v1/batches", body=body))
    assert worker.run_job_foreground(job_id, sqlite_engine) == "paused"
    with session_scope(sqlite_engine) as s:
        p = batch.progress(session=s, job_id=job_id)
        job = batch.get_job(session=s, job_id=job_id)
        assert "could not submit" in p["pause_reason"]
        assert KEY not in p["pause_reason"] and KEY[:12] not in p["pause_reason"]
        assert KEY not in json.dumps(job.provider_batch or {})
        assert p["counts"]["pending"] == 3  # handed back, nothing submitted


def test_download_failure_pauses_then_resume_repolls_without_paying_twice(sqlite_engine, server):
    job_id = _job(sqlite_engine, server)
    server.content_failures = 4  # every attempt of the first poll's download fails
    assert worker.run_job_foreground(job_id, sqlite_engine) == "paused"
    assert _posts(server, "/v1/batches") == 1
    with session_scope(sqlite_engine) as s:
        assert s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar() == 0
        batch.resume(actor=ADMIN, session=s, job_id=job_id)
        s.commit()
    assert worker.run_job_foreground(job_id, sqlite_engine) == "done"
    assert _posts(server, "/v1/batches") == 1 and _posts(server, "/v1/files") == 1  # re-polled, not resubmitted
    with session_scope(sqlite_engine) as s:
        assert s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar() == 3


@pytest.mark.parametrize("path", ["/v1/files", "/v1/batches"])
def test_a_failed_upload_or_create_hands_the_items_back_and_resume_submits_once(engine, server, path):
    job_id = _job(engine, server)
    server.script(Fault(status=400, path=path))  # not retried: the submission fails at this step
    assert worker.run_job_foreground(job_id, engine) == "paused"
    with session_scope(engine) as s:
        p = batch.progress(session=s, job_id=job_id)
        job = batch.get_job(session=s, job_id=job_id)
        assert "could not submit" in p["pause_reason"] and p["counts"]["pending"] == 3
        assert not job.provider_batch  # no batch and no half-made submission recorded
        batch.resume(actor=ADMIN, session=s, job_id=job_id)
        s.commit()
    assert worker.run_job_foreground(job_id, engine) == "done"
    assert len(server.batches) == 1  # one batch created at the provider
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar() == 3


def test_two_steppers_on_one_job_lose_no_batch(sqlite_engine, server):
    """The app's background worker and a `batch run` in a terminal can step the same provider job.
    Before: each wrote its whole copy of job.provider_batch, so the one whose create answered last
    erased the other's batch id; those items stayed leased to a batch nobody polled (the job never
    ended).  Each process now writes only the models it changed."""
    with session_scope(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")
    job_id = setup_job(sqlite_engine, 3, models=("fake/m1", "fake/m2"), mode="provider")
    server.script(Fault(delay_s=1.0, path="/v1/batches"))  # the first create (A's, for m1) answers late

    async def scenario() -> str:
        a = asyncio.create_task(provider_batch.submit(sqlite_engine, job_id))
        for _ in range(1000):  # until A's create is at the server
            if _posts(server, "/v1/batches"):
                break
            await asyncio.sleep(0.01)
        await provider_batch.submit(sqlite_engine, job_id)  # B: m1 is A's (alive, submitting), B submits m2
        await a
        return await asyncio.wait_for(provider_batch.run_to_end(sqlite_engine, job_id, poll_s=0.05), 60)

    assert asyncio.run(scenario()) == "done"
    assert _posts(server, "/v1/batches") == 2  # one batch per model, none twice
    with session_scope(sqlite_engine) as s:
        job = batch.get_job(session=s, job_id=job_id)
        assert {m: i["status"] for m, i in job.provider_batch.items()} == {"fake/m1": "merged", "fake/m2": "merged"}
        assert s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar() == 6
