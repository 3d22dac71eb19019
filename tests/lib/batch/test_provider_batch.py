"""Provider batch mode against the fake server's Files + Batches API: submit, poll, merge by custom_id."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.batch import reports as batch_results
from lib.batch import worker
from lib.client import endpoints
from lib.db import session_scope
from lib.errors import ValidationError
from lib.models import BatchItem, Run, Score
from tests.actors import ADMIN
from tests.lib.batch_helpers import setup_job


def _endpoint(engine, server):
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")


def test_provider_batch_merges_into_the_same_tables(engine, batch_server):
    _endpoint(engine, batch_server)
    job_id = setup_job(engine, 6, models=("fake/fake-model",), evaluators=["contains:what"], mode="provider",
                       extra="expected")
    with session_scope(engine) as s:
        first = s.execute(select(func.min(BatchItem.id)).where(BatchItem.job_id == job_id)).scalar()
    batch_server.batch_fail_ids = {f"item-{first + 2}"}
    assert worker.run_job_foreground(job_id, engine) == "done"
    paths = [r.path for r in batch_server.requests]
    assert paths.count("/v1/files") == 1 and paths.count("/v1/batches") == 1
    assert "/v1/chat/completions" not in paths  # nothing went through the live API
    assert sum(p.startswith("/v1/batches/batch_") for p in paths) == 2  # polled: in_progress, then completed
    upload = next(r for r in batch_server.requests if r.path == "/v1/files")
    assert upload.headers["Authorization"] == "Bearer sk-test-provider-batch"
    lines = [json.loads(x) for x in batch_server.files[next(iter(batch_server.files))].decode().splitlines()]
    assert len(lines) == 6 and {x["custom_id"] for x in lines} == {f"item-{first + i}" for i in range(6)}
    assert lines[0]["body"]["messages"][-1]["content"] == "Q: what is q1?"
    with session_scope(engine) as s:
        c = batch.counts(session=s, job_id=job_id)
        assert c["done"] == 5 and c["error"] == 1
        runs = s.execute(select(Run).where(Run.batch_job_id == job_id).order_by(Run.id)).scalars().all()
        assert len(runs) == 6
        ok = [r for r in runs if r.status == "ok"]
        assert {r.output for r in ok} == {f"echo: Q: what is q{i}?" for i in (1, 2, 4, 5, 6)}
        assert all(r.source == "batch" and r.prompt_tokens == 11 for r in ok)
        assert s.execute(select(func.count()).select_from(Score)).scalar() == 10  # 5 ok runs x 2 evaluators
        rates = batch_results.pass_rates(session=s, job_id=job_id)
        assert rates[0]["done"] == 5 and rates[0]["pass_rate"] == 1.0
        job = batch.get_job(session=s, job_id=job_id)
        assert job.provider_batch["fake/fake-model"]["status"] == "merged"
        assert "sk-test" not in json.dumps(job.provider_batch)
    # retry the failed one: a second small batch, merged into the same job
    with session_scope(engine) as s:
        assert batch.retry_failed(actor=ADMIN, session=s, job_id=job_id) == 1
    batch_server.batch_fail_ids = set()
    assert worker.run_job_foreground(job_id, engine) == "done"
    with session_scope(engine) as s:
        assert batch.counts(session=s, job_id=job_id)["done"] == 6
    assert [r.path for r in batch_server.requests].count("/v1/batches") == 2


def test_failed_provider_batch_pauses_and_returns_items(sqlite_engine, batch_server):
    _endpoint(sqlite_engine, batch_server)
    job_id = setup_job(sqlite_engine, 3, models=("fake/fake-model",), mode="provider")
    batch_server.batch_final_status = "expired"
    assert worker.run_job_foreground(job_id, sqlite_engine) == "paused"
    with session_scope(sqlite_engine) as s:
        p = batch.progress(session=s, job_id=job_id)
        assert "expired" in p["pause_reason"] and p["counts"]["pending"] == 3
    batch_server.batch_final_status = "completed"
    with session_scope(sqlite_engine) as s:
        batch.resume(actor=ADMIN, session=s, job_id=job_id)
    assert worker.run_job_foreground(job_id, sqlite_engine) == "done"


def test_echo_endpoint_has_no_batch_api(sqlite_engine, batch_server):
    with pytest.raises(ValidationError, match="Batch API"):
        setup_job(sqlite_engine, 2, mode="provider")


def test_anthropic_message_batches_merge_into_the_same_tables(engine, batch_server):
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="claude", kind="anthropic", base_url=batch_server.url,
                               api_key_env="FAKE_KEY")
    job_id = setup_job(engine, 4, models=("claude/claude-fake",), evaluators=["contains:what"], mode="provider")
    with session_scope(engine) as s:
        first = s.execute(select(func.min(BatchItem.id)).where(BatchItem.job_id == job_id)).scalar()
    batch_server.batch_fail_ids = {f"item-{first + 1}"}
    assert worker.run_job_foreground(job_id, engine) == "done"
    paths = [r.path for r in batch_server.requests]
    assert paths.count("/v1/messages/batches") == 1 and "/v1/messages" not in paths  # no live call
    assert any(p.endswith("/results") for p in paths)
    created = next(r for r in batch_server.requests if r.path == "/v1/messages/batches")
    assert created.headers["x-api-key"] == "sk-test-provider-batch"
    params = batch_server.anthropic_batch_params[0]  # converted to the Messages API shape
    assert params["system"] == "Be brief." and params["messages"] == [{"role": "user", "content": "Q: what is q1?"}]
    assert params["max_tokens"] == 1024
    with session_scope(engine) as s:
        rows, _ = batch_results.results(session=s, job_id=job_id)
        states = sorted(r["state"] for r in rows)
        assert states == ["done", "done", "done", "error"]
        ok = [r for r in rows if r["state"] == "done"]
        assert all(r["output"].startswith("echo: Q: what is q") and r["passed"] for r in ok)
        assert all(r["prompt_tokens"] == 12 for r in ok)
        err = next(r for r in rows if r["state"] == "error")
        assert "fake failure" in err["error"]
        runs = s.execute(select(func.count()).select_from(Run).where(Run.batch_job_id == job_id)).scalar()
        assert runs == 4
