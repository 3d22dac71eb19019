"""#11 item 12: a money budget holds in every mode.

A budget on a model with no known price is refused when the job is submitted (its spend would
be unknown, so the budget could never stop it); a provider-batch job estimates each submission
and never submits past its budget; spend is counted when results are merged.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.batch import worker
from lib.client import endpoints, set_override
from lib.db import session_scope
from lib.errors import ValidationError
from lib.models import BatchJob, Run
from tests.actors import ADMIN
from tests.lib.batch_helpers import setup_job


def _unpriced_endpoint(engine) -> None:
    with session_scope(engine) as s:  # a loopback host: no bundled price can match it
        endpoints.add_endpoint(actor=ADMIN, session=s, name="local", kind="openai",
                               base_url="http://127.0.0.1:9/v1", api_key_env="FAKE_KEY")
        s.commit()


@pytest.mark.parametrize("mode", ["live", "provider"])
def test_money_budget_on_an_unpriced_model_is_refused_naming_it(engine, monkeypatch, mode):
    monkeypatch.setenv("FAKE_KEY", "sk-unused")
    _unpriced_endpoint(engine)
    models = ("local/mystery-model", "local/other-model") + (("echo/echo",) if mode == "live" else ())
    with pytest.raises(ValidationError) as err:
        setup_job(engine, 3, models=models, budget_usd=0.01, mode=mode)
    msg = str(err.value)
    assert "\n" not in msg and "local/mystery-model" in msg and "local/other-model" in msg
    assert "echo/echo" not in msg  # priced (free): not named
    assert "price" in msg
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(BatchJob)).scalar() == 0  # nothing was created


def test_unpriced_model_without_a_budget_and_priced_model_with_one_are_accepted(engine, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-unused")
    _unpriced_endpoint(engine)
    assert setup_job(engine, 2, models=("local/mystery-model",), name="a")
    assert setup_job(engine, 2, models=("echo/echo",), budget_usd=0.01, name="b")


def test_resume_with_a_budget_on_an_unpriced_model_is_refused(engine, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-unused")
    _unpriced_endpoint(engine)
    job_id = setup_job(engine, 2, models=("local/mystery-model",))
    with session_scope(engine) as s:
        with pytest.raises(ValidationError, match="local/mystery-model"):
            batch.resume(actor=ADMIN, session=s, job_id=job_id, budget_usd=1.0)
        assert batch.get_job(session=s, job_id=job_id).budget_usd is None


def _priced_fake(engine, server) -> None:
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")
        # $1,000 per 1M tokens in and out: the fake's 11 + 5 tokens cost $0.016 a call
        set_override(actor=ADMIN, session=s, provider="fake", model="fake-model", input_per_mtok=1000.0,
                     output_per_mtok=1000.0)
        s.commit()


def _spent_and_run_costs(engine, job_id: int) -> tuple[float, float, int]:
    with session_scope(engine) as s:
        job = batch.get_job(session=s, job_id=job_id)
        costs = s.execute(select(Run.cost_usd).where(Run.batch_job_id == job_id)).scalars().all()
    return job.spent_usd or 0.0, sum(c or 0.0 for c in costs), len(costs)


def _submitted_lines(server) -> int:
    return sum(len(f.decode().splitlines()) for f in server.files.values())


def test_provider_batch_never_submits_past_its_budget(engine, batch_server):
    _priced_fake(engine, batch_server)
    job_id = setup_job(engine, 6, models=("fake/fake-model",), mode="provider", budget_usd=0.05,
                       params={"max_tokens": 8})
    # before: 'done', all 6 submitted at once, $0.096 spent on a $0.05 budget
    assert worker.run_job_foreground(job_id, engine) == "paused"
    with session_scope(engine) as s:
        p = batch.progress(session=s, job_id=job_id)
    assert "budget" in p["pause_reason"] and "\n" not in p["pause_reason"]
    spent, run_costs, runs = _spent_and_run_costs(engine, job_id)
    print(f"{engine.dialect.name}: budget $0.05, {p['counts']['done']} of 6 done, spent ${spent:.4f}")
    assert 0 < spent <= 0.05
    assert spent == pytest.approx(run_costs) and runs == p["counts"]["done"]  # spend counted at merge
    assert 1 <= p["counts"]["done"] < 6 and p["counts"]["pending"] == 6 - p["counts"]["done"]
    assert _submitted_lines(batch_server) == p["counts"]["done"]  # nothing was sent that did not fit
    assert "/v1/chat/completions" not in [r.path for r in batch_server.requests]

    with session_scope(engine) as s:  # a higher budget finishes the job; nothing is sent twice
        batch.resume(actor=ADMIN, session=s, job_id=job_id, budget_usd=1.0)
        s.commit()
    assert worker.run_job_foreground(job_id, engine) == "done"
    spent, run_costs, runs = _spent_and_run_costs(engine, job_id)
    assert runs == 6 and _submitted_lines(batch_server) == 6
    assert spent == pytest.approx(run_costs) == pytest.approx(6 * 0.016)


def test_provider_batch_submits_everything_when_the_budget_allows(sqlite_engine, batch_server):
    _priced_fake(sqlite_engine, batch_server)
    job_id = setup_job(sqlite_engine, 6, models=("fake/fake-model",), mode="provider", budget_usd=1.0,
                       params={"max_tokens": 8})
    assert worker.run_job_foreground(job_id, sqlite_engine) == "done"
    assert [r.path for r in batch_server.requests].count("/v1/batches") == 1  # one submission, not split
    assert _spent_and_run_costs(sqlite_engine, job_id)[0] == pytest.approx(6 * 0.016)
