"""#11 item 12: a process killed (SIGKILL) between submitting a provider batch and merging it.

A real `python -m lib batch resume JOB` process submits a provider-mode job to the loopback fake
server's Batch API and is killed at one of three points:

- ``polling``: the batch was created and its id stored; the process is polling it;
- ``creating``: the provider has created (and will bill) the batch, but the process dies before
  it hears the answer, so it never learned the batch id;
- ``before_create``: the requests are ready and the create request sent, but the provider has not
  created the batch when the process dies.

For OpenAI's Batch API (the batch found again by a token in its metadata) and Anthropic Message
Batches (no metadata: found by its results' custom_ids).  A second process then resumes the job.
Nothing may be billed twice: exactly one batch is created at the provider in all (the existing one
found, polled and merged; or, when none exists, the items submitted once), one Run row per item.
Before the fix, ``creating`` left the items leased to a batch nobody knew for 10 minutes, then
submitted them again (a second bill).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.batch import provider_batch
from lib.client import endpoints
from lib.db import session_scope
from lib.models import BatchItem, Run
from tests.actors import ADMIN
from tests.fakefaults import Fault
from tests.lib.batch_helpers import setup_job

ROOT = Path(__file__).resolve().parents[3]
ITEMS = 5


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


KINDS = {  # kind: (base URL suffix, create path, batch GET prefix, upload path or None)
    "openai": ("/v1", "/v1/batches", "/v1/batches/batch_", "/v1/files"),
    "anthropic": ("", "/v1/messages/batches", "/v1/messages/batches/msgbatch_", None),
}


def _created(server, kind: str) -> list:
    return server.batches if kind == "openai" else server.message_batches


@pytest.mark.parametrize("kind", list(KINDS))
def test_killed_while_the_create_is_answered_resumes_without_paying_twice(engine, batch_server, kind):
    """The window that billed twice, on both databases."""
    _killed_then_resumed(engine, batch_server, "creating", kind)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("kill_point", ["polling", "before_create"])
def test_killed_while_polling_or_before_the_create_resumes_without_paying_twice(sqlite_engine, batch_server,
                                                                                 kill_point, kind):
    """The other two points (the state they leave is the same on both databases: SQLite only, to keep the
    suite's time)."""
    _killed_then_resumed(sqlite_engine, batch_server, kill_point, kind)


def _killed_then_resumed(engine, server, kill_point: str, kind: str) -> None:
    suffix, create, poll_prefix, upload = KINDS[kind]
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind=kind, base_url=server.url + suffix,
                               api_key_env="FAKE_KEY")
        s.commit()
    job_id = setup_job(engine, ITEMS, models=("fake/fake-model",), mode="provider")
    server.batch_polls_before_done = 10**6  # the batch stays in progress while the first process lives
    if kill_point == "creating":
        server.batch_create_hold_s = 60.0  # created at the provider; the answer never reaches the process
    if kill_point == "before_create":
        server.script(Fault(delay_s=60.0, path=create))  # held before the provider creates anything

    def sign() -> bool:
        if kill_point == "creating":
            return len(_created(server, kind)) == 1
        if kill_point == "before_create":
            return _posts(server, create) == 1
        return any(r.method == "GET" and r.path.startswith(poll_prefix) for r in server.requests)

    first = _cli("batch", "resume", str(job_id))
    try:
        _wait_for(sign, first, kill_point)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert _posts(server, create) == 1 and (upload is None or _posts(server, upload) == 1)
    assert len(_created(server, kind)) == (0 if kill_point == "before_create" else 1)

    server.batch_create_hold_s = 0.0
    if kill_point == "creating":  # a round while the provider still runs the batch: it is never sent again
        # (Anthropic cannot read an unfinished batch's custom_ids yet: the job waits for it to end)
        assert asyncio.run(provider_batch.step(engine, job_id)) == "running"
        assert _posts(server, create) == 1 and len(_created(server, kind)) == 1
    server.batch_polls_before_done = 0  # the provider has finished the batch meanwhile
    second = _cli("batch", "resume", str(job_id))
    try:
        out, err = second.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        second.kill()
        out, err = second.communicate()
        pytest.fail(f"the resumed job never finished ({kill_point}): {out.decode()[-400:]} {err.decode()[-400:]}")
    assert second.returncode == 0, (out.decode()[-400:], err.decode()[-400:])

    assert len(_created(server, kind)) == 1  # one batch created (billed) at the provider, never two
    sent = 2 if kill_point == "before_create" else 1  # a create the provider never acted on is sent again
    assert _posts(server, create) == sent and (upload is None or _posts(server, upload) == sent)
    assert not {"/v1/chat/completions", "/v1/messages"} & {r.path for r in server.requests}  # nothing live
    with session_scope(engine) as s:
        c = batch.counts(session=s, job_id=job_id)
        runs = s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar()
        run_ids = s.execute(select(BatchItem.run_id).where(BatchItem.job_id == job_id)).scalars().all()
        job = batch.get_job(session=s, job_id=job_id)
    assert c["done"] == ITEMS and c["pending"] == 0 and c["running"] == 0, c
    assert runs == ITEMS and len(set(run_ids)) == ITEMS and None not in run_ids  # one Run row per item
    assert job.status == "done"
    created = _created(server, kind)[0]
    assert job.provider_batch["fake/fake-model"]["batch_id"] == (created["id"] if kind == "openai"
                                                                  else created()["id"])
