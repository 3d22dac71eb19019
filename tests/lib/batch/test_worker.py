"""The worker with the real model client on the built-in echo endpoint (both backends)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.batch import worker
from lib.client.model_client import reset_clients
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

    from lib.batch.runner import JobRunner
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


def test_heartbeat_survives_a_failed_lease_renewal(sqlite_engine, monkeypatch):
    # one failed renew (e.g. "database is locked") killed the heartbeat task for good: the
    # leases then expired under in-flight calls and another worker could claim and repeat them
    import asyncio

    from lib.batch import store as batch_store
    from lib.batch.runner import JobRunner
    from tests.lib.batch_helpers import StandIn

    job_id = setup_job(sqlite_engine, n=2, concurrency=2)
    calls: list[float] = []
    real = batch_store.renew

    def flaky(*a, **kw):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return real(*a, **kw)

    monkeypatch.setattr(batch_store, "renew", flaky)
    assert asyncio.run(JobRunner(sqlite_engine, job_id, caller=StandIn(delay=0.8), lease_s=0.5).run()) == "done"
    assert len(calls) >= 3


def test_background_worker_survives_a_failed_poll(sqlite_engine, monkeypatch):
    # an error while listing runnable jobs (e.g. "database is locked") ended work() and so the
    # app's background worker thread for good: jobs submitted afterwards never ran
    real = worker.runnable_jobs
    fails = []

    def flaky(**kw):
        if not fails:
            fails.append(1)
            raise RuntimeError("database is locked")
        return real(**kw)

    monkeypatch.setattr(worker, "runnable_jobs", flaky)
    t = worker.start_background_worker(sqlite_engine, poll_s=0.1)
    try:
        job_id = setup_job(sqlite_engine, 3)
        deadline, status = time.monotonic() + 20, None
        while time.monotonic() < deadline and status != "done":
            time.sleep(0.1)
            with session_scope(sqlite_engine) as s:
                status = batch.get_job(session=s, job_id=job_id).status
        assert fails and status == "done" and t.is_alive()
    finally:
        worker.stop_background_worker(sqlite_engine)


def test_results_that_cannot_be_saved_pause_the_job_instead_of_hanging_it(sqlite_engine, monkeypatch):
    # the writer gave up after 5 failed writes by raising inside its task: the slots of that
    # write were never freed, so the dispatcher waited on the semaphore forever (job stuck)
    import asyncio

    from lib.batch import store as batch_store
    from lib.batch.runner import JobRunner
    from tests.lib.batch_helpers import StandIn

    def broken(*a, **kw):
        raise RuntimeError("value cannot be stored")

    monkeypatch.setattr(batch_store, "persist", broken)
    job_id = setup_job(sqlite_engine, n=6, concurrency=2)
    runner = JobRunner(sqlite_engine, job_id, caller=StandIn())

    async def go():
        return await asyncio.wait_for(runner.run(), 30)

    assert asyncio.run(go()) == "paused"
    with session_scope(sqlite_engine) as s:
        job = batch.get_job(session=s, job_id=job_id)
        assert job.status == "paused" and "could not save" in job.pause_reason
        states = set(s.execute(select(BatchItem.state).where(BatchItem.job_id == job_id)).scalars())
        assert states == {"pending"}  # handed back, none left leased to a runner that stopped


def test_batch_outputs_with_nul_are_saved(engine):
    # a provider answer containing NUL (or a finish_reason over varchar(50)) could never be
    # written on PostgreSQL: every write of that item's result failed
    import asyncio

    from lib.batch.runner import JobRunner
    from lib.runs import RunResult
    from tests.lib.batch_helpers import StandIn

    class NulCaller(StandIn):
        async def __call__(self, **kw):
            self.calls.append(kw)
            return RunResult(text="a\x00b", status="ok", cost_usd=0.001, attempts=1, finish_reason="f" * 80)

    job_id = setup_job(engine, n=2, concurrency=2, evaluators=["contains:zzz"])
    assert asyncio.run(asyncio.wait_for(JobRunner(engine, job_id, caller=NulCaller()).run(), 30)) == "done"
    with session_scope(engine) as s:
        outs = s.execute(select(Run.output, Run.finish_reason).where(Run.batch_job_id == job_id)).all()
        assert [tuple(o) for o in outs] == [("ab", "f" * 50)] * 2  # NUL removed (#11 item 3)
