"""#11 item 12: a money budget holds in every mode.

A budget on a model with no known price is refused when the job is submitted (its spend would
be unknown, so the budget could never stop it); a provider-batch job estimates each submission
and never submits past its budget; spend is counted when results are merged.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lib.batch import jobs as batch
from lib.client import endpoints
from lib.db import session_scope
from lib.errors import ValidationError
from lib.models import BatchJob
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
