"""The worker with the real model client on the built-in echo endpoint (both backends)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from lib import batch, worker
from lib.client import reset_clients
from lib.db import session_scope
from lib.models import BatchItem, Run, Score

from tests.lib.batch_helpers import setup_job


@pytest.fixture(autouse=True)
def _clients():
    yield
    reset_clients()


def test_foreground_job_on_echo(engine):
    job_id = setup_job(engine, 25, versions=2, evaluators=["icontains:WHAT IS", "regex:q\\d+\\?"])
    seen = []
    assert worker.run_job_foreground(job_id, engine, on_persist=seen.append) == "done"
    assert sum(seen) == 50
    with session_scope(engine) as s:
        p = batch.progress(session=s, job_id=job_id)
        assert p["counts"]["done"] == 50 and p["pass_rate"] == 1.0 and p["spent_usd"] == 0.0
        runs = s.execute(select(Run).where(Run.batch_job_id == job_id)).scalars().all()
        assert len(runs) == 50 and {r.endpoint for r in runs} == {"echo"}
        assert sum(r.output.startswith("[system] Be brief.") for r in runs) == 25
        assert s.execute(select(func.count()).select_from(Score)).scalar() == 100
        # every item points at its own run, and no run is shared
        run_ids = s.execute(select(BatchItem.run_id).where(BatchItem.job_id == job_id)).scalars().all()
        assert len(set(run_ids)) == 50 and None not in run_ids


def test_unknown_endpoint_makes_item_errors_not_a_crash(sqlite_engine):
    job_id = setup_job(sqlite_engine, 3, models=("nowhere/model",))
    assert worker.run_job_foreground(job_id, sqlite_engine) == "done"
    with session_scope(sqlite_engine) as s:
        c = batch.counts(session=s, job_id=job_id)
        assert c["error"] == 3
        err = s.execute(select(BatchItem.error).where(BatchItem.job_id == job_id)).scalars().first()
        assert "nowhere" in err


def test_background_worker_is_idempotent_and_runs_jobs(sqlite_engine):
    t1 = worker.start_background_worker(sqlite_engine, poll_s=0.1)
    t2 = worker.start_background_worker(sqlite_engine, poll_s=0.1)
    assert t1 is t2 and t1.is_alive()
    try:
        job_id = setup_job(sqlite_engine, 8)
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            with session_scope(sqlite_engine) as s:
                status = batch.get_job(session=s, job_id=job_id).status
            if status == "done":
                break
            time.sleep(0.1)
        assert status == "done"
    finally:
        worker.stop_background_worker(sqlite_engine)
    assert not t1.is_alive()


def test_run_worker_once(engine):
    a = setup_job(engine, 4, name="one")
    b = setup_job(engine, 3, name="two")
    assert worker.run_worker(engine, once=True) == 2
    with session_scope(engine) as s:
        assert batch.get_job(session=s, job_id=a).status == "done"
        assert batch.get_job(session=s, job_id=b).status == "done"


def test_two_workers_share_one_job_without_duplicates(engine):
    """Two runners with their own owners and DB threads claim from one job (SKIP LOCKED on PostgreSQL)."""
    import asyncio

    from lib.job_runner import JobRunner
    from tests.lib.batch_helpers import StandIn

    job_id = setup_job(engine, 60, concurrency=4)
    a, b = StandIn(delay=0.005), StandIn(delay=0.005)

    async def both():
        return await asyncio.wait_for(asyncio.gather(JobRunner(engine, job_id, caller=a).run(),
                                                     JobRunner(engine, job_id, caller=b).run()), 60)

    assert set(asyncio.run(both())) == {"done"}
    assert len(a.calls) + len(b.calls) == 60 and a.calls and b.calls
    sent = [k["messages"][-1]["content"] for k in a.calls + b.calls]
    assert len(set(sent)) == 60
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar() == 60


def test_judge_and_similarity_evaluators_run_inside_the_worker(sqlite_engine):
    job_id = setup_job(sqlite_engine, 3, evaluators=["judge:echo/echo:Is the answer polite?", "similar:0.1:what is"])
    assert worker.run_job_foreground(job_id, sqlite_engine) == "done"
    with session_scope(sqlite_engine) as s:
        scores = s.execute(select(Score)).scalars().all()
        assert len(scores) == 6
        assert {sc.evaluator.split(":")[0] for sc in scores} == {"judge", "similar"}
        assert all(sc.reason for sc in scores)
        judge_runs = s.execute(select(func.count()).select_from(Run).where(Run.source == "batch",
                                                                           Run.batch_job_id == job_id)).scalar()
        assert judge_runs >= 3  # the 3 item runs (+ the judge's own calls, recorded by the client)
