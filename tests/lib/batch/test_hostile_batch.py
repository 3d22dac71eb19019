"""Hostile replies in a batch (#11 items 3 and 6): a poison reply is stored, never blocks or re-bills;
`Retry-After: 0` cannot turn a batch into a flood (a circuit breaker per endpoint pauses the job)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from lib.batch import jobs as batch
from lib.batch.runner import JobRunner, run_on_client_loop
from lib.client import endpoints
from lib.client.model_client import ModelClient, reset_clients
from lib.client.retry import RetryPolicy
from lib.db import session_scope
from lib.models import Run
from lib.settings import get_settings
from tests.actors import ADMIN
from tests.fakefaults import Fault
from tests.fakeserver import FakeServer
from tests.lib.batch_helpers import StandIn, setup_job


@pytest.fixture
def server():
    srv = FakeServer().start()
    yield srv
    srv.stop()
    reset_clients()


class NoSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, d: float) -> None:
        self.delays.append(d)


def _run(engine, server, job_id: int, policy: RetryPolicy | None = None) -> tuple[str, ModelClient]:
    client = ModelClient(engine, policy=policy or RetryPolicy(base_delay_s=0.01, jitter=0.0), sleep=NoSleep())
    try:
        status = asyncio.run(asyncio.wait_for(run_on_client_loop(JobRunner(engine, job_id, client=client)), 60))
    finally:
        client.close()
    return status, client


def _endpoint(engine, server) -> None:
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url, timeout_s=5.0,
                               max_concurrency=4)
        s.commit()


def _runs(engine, job_id: int) -> list[Run]:
    with session_scope(engine) as s:
        return list(s.execute(select(Run).where(Run.batch_job_id == job_id).order_by(Run.id)).scalars())


def test_poison_replies_are_stored_and_never_repeated(engine, server):
    _endpoint(engine, server)
    job_id = setup_job(engine, 6, models=("fake/m",), concurrency=1)
    server.script(Fault(text="lone \ud800 surrogate"), Fault(text="nul \x00 byte"))
    status, _ = _run(engine, server, job_id)
    assert status == "done"
    assert server.count("/v1/chat/completions") == 6  # each call once: nothing paused, nothing repeated
    runs = _runs(engine, job_id)
    assert len(runs) == 6 and all(r.status == "ok" for r in runs)
    outputs = {r.output for r in runs}
    assert "lone \ufffd surrogate" in outputs and "nul  byte" in outputs  # surrogate replaced, NUL removed
    with session_scope(engine) as s:
        assert batch.counts(session=s, job_id=job_id)["done"] == 6


def test_retry_after_zero_trips_the_circuit_breaker(sqlite_engine, server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CIRCUIT_BREAKER_FAILURES", "5")
    get_settings.cache_clear()
    _endpoint(sqlite_engine, server)
    job_id = setup_job(sqlite_engine, 200, models=("fake/m",), concurrency=4)
    server.script(*[Fault(status=429, headers={"retry-after": "0"})] * 2000)
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.01, jitter=0.0)
    status, client = _run(sqlite_engine, server, job_id, policy)
    get_settings.cache_clear()
    assert status == "paused"
    calls = server.count("/v1/chat/completions")
    assert calls <= (5 + 4) * 4  # at most breaker + in-flight items, each with its attempts (was 800)
    assert all(d >= 0.01 for d in client._sleep.delays)  # the floor held on every delay
    with session_scope(sqlite_engine) as s:
        p = batch.progress(session=s, job_id=job_id)
        assert "in a row" in p["pause_reason"] and "rate_limit" in p["pause_reason"]
        assert p["counts"]["pending"] >= 190


class OneUnwritable(StandIn):
    """A stand-in whose second answer carries a value PostgreSQL cannot store (text in an integer column)."""

    async def __call__(self, **kw):
        second = len(self.calls) == 1
        res = await super().__call__(**kw)
        if second:
            res.prompt_tokens = "many"  # type: ignore[assignment]
        return res


def test_a_row_that_cannot_be_written_fails_alone(engine):
    job_id = setup_job(engine, 4, concurrency=4)
    caller = OneUnwritable(delay=0.05)
    status = asyncio.run(asyncio.wait_for(JobRunner(engine, job_id, caller=caller).run(), 60))
    assert len(caller.calls) == 4
    with session_scope(engine) as s:
        c = batch.counts(session=s, job_id=job_id)
        n_runs = s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar()
    if engine.dialect.name == "postgresql":  # not an integer there: that one item fails, alone
        assert status == "done" and c["done"] == 3 and c["error"] == 1 and n_runs == 3
    else:  # SQLite stores the text (dynamic typing): nothing fails
        assert status == "done" and c["done"] == 4 and n_runs == 4
    with session_scope(engine) as s:  # a resume repeats nothing whose answer was received
        batch.resume(actor=ADMIN, session=s, job_id=job_id) if batch.get_job(session=s,
                     job_id=job_id).status != "done" else None
    asyncio.run(asyncio.wait_for(JobRunner(engine, job_id, caller=caller).run(), 60))
    assert len(caller.calls) == 4
