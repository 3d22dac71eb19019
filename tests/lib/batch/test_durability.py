"""A worker PROCESS killed with SIGKILL at random points, then resumed: nothing lost, nothing repeated.

200 rows at concurrency 4 against the loopback fake server (10 ms per answer).  For several seeds
(two on SQLite, one on PostgreSQL) a `python -m lib batch resume JOB` process is killed once a random
number of items are done; the job is then resumed (waiting out the dead worker's 1.5 s leases).
Then: exactly 200 items done, 200 runs, no duplicate, provider requests <= 200 + concurrency,
outputs equal to an uninterrupted run, and resuming again (from a new process) sends nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.batch.worker import run_job_foreground
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.db import session_scope
from lib.models import BatchItem, Run
from tests.actors import ADMIN
from tests.fakeserver import FakeServer, chat_completions
from tests.lib.batch_helpers import setup_job

ROOT = Path(__file__).resolve().parents[3]
ROWS, CONCURRENCY = 200, 4
CHAT = "/v1/chat/completions"


@pytest.fixture
def server():
    srv = FakeServer().start()

    async def slow(server, request, body, fault):
        await asyncio.sleep(0.01)
        return await chat_completions(server, request, body, fault)

    srv.add_route("POST", CHAT, slow)
    yield srv
    srv.stop()
    reset_clients()


def _cli(*args: str) -> subprocess.Popen:
    env = dict(os.environ, WORKBENCH_BATCH_LEASE_S="1.5", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "lib", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _done(engine, job_id: int) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(BatchItem).where(
            BatchItem.job_id == job_id, BatchItem.state == "done")).scalar()


def _outputs(engine, job_id: int) -> dict[int, str]:
    with session_scope(engine) as s:
        rows = s.execute(select(BatchItem.row_idx, Run.output).join(Run, Run.id == BatchItem.run_id)
                         .where(BatchItem.job_id == job_id)).all()
    return dict(rows)


def _add_endpoint(engine, server) -> None:
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               max_concurrency=8, timeout_s=10)


def test_sigkill_then_resume_loses_and_repeats_nothing(engine, server):
    _add_endpoint(engine, server)
    baseline = setup_job(engine, ROWS, models=("fake/fake-model",), concurrency=CONCURRENCY, name="base")
    assert run_job_foreground(baseline, engine) == "done"  # the uninterrupted run, in this process
    expected = _outputs(engine, baseline)
    assert len(expected) == ROWS and server.count(CHAT) == ROWS

    seeds = (1, 2) if engine.dialect.name == "sqlite" else (3,)
    for seed in seeds:
        rng = random.Random(seed)
        with session_scope(engine) as s:
            ds_id = batch.get_job(session=s, job_id=baseline).dataset_id
            vids = batch.get_job(session=s, job_id=baseline).version_ids
            job_id = batch.submit(actor=ADMIN, session=s, dataset_id=ds_id, version_ids=vids,
                                  models=["fake/fake-model"],
                                  concurrency=CONCURRENCY).id
        server.reset()
        kill_at = rng.randint(5, 150)
        proc = _cli("batch", "resume", str(job_id))
        deadline = time.monotonic() + 60
        while _done(engine, job_id) < kill_at and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005 + rng.random() * 0.01)
        assert proc.poll() is None, "the worker finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        killed_done = _done(engine, job_id)
        assert kill_at <= killed_done < ROWS

        with session_scope(engine) as s:  # what `batch resume JOB` does, in this process
            batch.resume(actor=ADMIN, session=s, job_id=job_id)
        assert run_job_foreground(job_id, engine) == "done"
        with session_scope(engine) as s:
            c = batch.counts(session=s, job_id=job_id)
            assert c == {"pending": 0, "running": 0, "done": ROWS, "error": 0, "incomplete": 0}, (seed, c)
            runs = s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar()
            item_runs = s.execute(select(BatchItem.run_id).where(BatchItem.job_id == job_id)).scalars().all()
        assert runs == ROWS and len(set(item_runs)) == ROWS, (seed, runs)
        sent = server.count(CHAT)
        print(f"{engine.dialect.name} seed={seed} killed at {killed_done} done; provider requests {sent}")
        assert ROWS <= sent <= ROWS + CONCURRENCY, (seed, kill_at, sent)
        assert _outputs(engine, job_id) == expected

        if seed == seeds[-1]:  # resuming a finished job, from a new process, sends nothing
            proc = _cli("batch", "resume", str(job_id))
            assert proc.wait(60) == 0
            assert server.count(CHAT) == sent
