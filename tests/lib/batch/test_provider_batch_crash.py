"""#11 item 12: a process killed (SIGKILL) between submitting a provider batch and merging it.

A real `python -m lib batch resume JOB` process submits a provider-mode job to the loopback fake
server's Batch API and is killed at one of two points:

- ``polling``: the batch was created and its id stored; the process is polling it;
- ``creating``: the provider has created (and will bill) the batch, but the process dies before
  it hears the answer, so it never learned the batch id;
- ``before_create``: the file is uploaded and the create request sent, but the provider has not
  created the batch when the process dies.

A second process then resumes the job.  Nothing may be billed twice: exactly one batch is created
at the provider in all (the existing one found, polled and merged; or, when none exists, the items
submitted once), one Run row per item.  Before the fix, ``creating`` left the items leased to a
batch nobody knew for 10 minutes, then submitted them again (a second bill).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.db import session_scope
from lib.models import BatchItem, Run
from tests.actors import ADMIN
from tests.fake_batch_api import install
from tests.fakeserver import FakeServer, Fault
from tests.lib.batch_helpers import setup_job

ROOT = Path(__file__).resolve().parents[3]
ITEMS = 5


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROVIDER_POLL_S", "0.05")
    monkeypatch.setenv("FAKE_KEY", "sk-test-provider-batch-crash")
    srv = install(FakeServer().start())
    yield srv
    srv.stop()
    reset_clients()


def _cli(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "lib", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(cond, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, f"the process ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _posts(server, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path == path)


@pytest.mark.parametrize("kill_point", ["polling", "creating", "before_create"])
def test_killed_between_submit_and_merge_resumes_without_paying_twice(engine, server, kill_point):
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")
        s.commit()
    job_id = setup_job(engine, ITEMS, models=("fake/fake-model",), mode="provider")
    server.batch_polls_before_done = 10**6  # the batch stays in progress while the first process lives
    if kill_point == "creating":
        server.batch_create_hold_s = 60.0  # created at the provider; the answer never reaches the process
    if kill_point == "before_create":
        server.script(Fault(delay_s=60.0, path="/v1/batches"))  # held before the provider creates anything

    def sign() -> bool:
        if kill_point == "creating":
            return len(server.batches) == 1
        if kill_point == "before_create":
            return _posts(server, "/v1/batches") == 1
        return any(r.method == "GET" and r.path.startswith("/v1/batches/batch_") for r in server.requests)

    first = _cli("batch", "resume", str(job_id))
    try:
        _wait_for(sign, first, kill_point)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert _posts(server, "/v1/batches") == 1 and _posts(server, "/v1/files") == 1
    assert len(server.batches) == (0 if kill_point == "before_create" else 1)

    server.batch_create_hold_s = 0.0
    server.batch_polls_before_done = 0  # the provider has finished the batch meanwhile
    second = _cli("batch", "resume", str(job_id))
    try:
        out, err = second.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        second.kill()
        out, err = second.communicate()
        pytest.fail(f"the resumed job never finished ({kill_point}): {out.decode()[-400:]} {err.decode()[-400:]}")
    assert second.returncode == 0, (out.decode()[-400:], err.decode()[-400:])

    assert len(server.batches) == 1  # one batch created (billed) at the provider, never two
    sent = 2 if kill_point == "before_create" else 1  # a create the provider never acted on is sent again
    assert _posts(server, "/v1/batches") == sent and _posts(server, "/v1/files") == sent
    assert "/v1/chat/completions" not in [r.path for r in server.requests]
    with session_scope(engine) as s:
        c = batch.counts(session=s, job_id=job_id)
        runs = s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar()
        run_ids = s.execute(select(BatchItem.run_id).where(BatchItem.job_id == job_id)).scalars().all()
        job = batch.get_job(session=s, job_id=job_id)
    assert c["done"] == ITEMS and c["pending"] == 0 and c["running"] == 0, c
    assert runs == ITEMS and len(set(run_ids)) == ITEMS and None not in run_ids  # one Run row per item
    assert job.status == "done"
    assert job.provider_batch["fake/fake-model"]["batch_id"] == server.batches[0]["id"]
