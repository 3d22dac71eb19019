"""One parameter merge (#10 item 4): version defaults, then per-model overrides, then call params.

The live batch and the provider batch send exactly what the Playground (the client given the
version) sends, per-model overrides included; before, both batch paths dropped the overrides.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from lib import prompts
from lib.batch import jobs as batch
from lib.batch import worker
from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.datasets import store as datasets
from lib.db import session_scope
from lib.models import PromptVersion, Run
from tests.actors import ADMIN
from tests.lib.batch_helpers import make_csv

MODEL = "fake/fake-model"
OVERRIDES = {MODEL: {"temperature": 0.9, "max_tokens": 7}, "fake/other": {"temperature": 0.0}}


def _setup(engine, server, mode: str) -> tuple[int, int]:
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=make_csv(3), filename="m.csv", name="m")
        prompts.create_prompt(actor=ADMIN, session=s, name="merge", messages=[{"role": "user",
                              "content": "Q: {{question}}"}])
        v, _ = prompts.save_version(actor=ADMIN, session=s, name="merge", messages=[{"role": "user",
                                    "content": "Q: {{question}}"}],
                                    params={"temperature": 0.1, "top_p": 0.5}, model_overrides=OVERRIDES)
        job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id], models=[MODEL], evaluators=[],
                           concurrency=2, mode=mode, params={"seed": 3})
        s.commit()
        return job.id, v.id


def _playground_body(engine, server, version_id: int) -> dict:
    with session_scope(engine) as s:
        version = s.get(PromptVersion, version_id)
        s.expunge(version)
    client = ModelClient(engine)
    try:
        res = client.generate_sync(actor=ADMIN, model=MODEL, version=version, variables={"question": "what is q1?"},
                                   params={"seed": 3}, source="playground")
    finally:
        client.close()
    assert res.status == "ok", res.error_message
    return server.requests[-1].body


def _sampling(body: dict) -> dict:
    return {k: body.get(k) for k in ("temperature", "top_p", "max_tokens", "seed")}


def test_merge_params_order():
    v = PromptVersion(prompt_id=1, number=1, messages=[], params={"temperature": 0.1, "top_p": 0.5},
                      model_overrides=OVERRIDES)
    assert prompts.merge_params(v, MODEL, {"seed": 3}) == {"temperature": 0.9, "top_p": 0.5, "max_tokens": 7,
                                                           "seed": 3}
    assert prompts.merge_params(v, MODEL, {"temperature": 0.3})["temperature"] == 0.3  # the call wins
    assert prompts.merge_params(v, "echo/echo") == {"temperature": 0.1, "top_p": 0.5}
    assert prompts.merge_params(None, MODEL, {"seed": 1}) == {"seed": 1}


def test_live_batch_sends_the_per_model_overrides(engine, batch_server):
    job_id, vid = _setup(engine, batch_server, "live")
    assert worker.run_job_foreground(job_id, engine) == "done"
    sent = [r.body for r in batch_server.requests if r.path == "/v1/chat/completions"]
    assert len(sent) == 3
    expected = {"temperature": 0.9, "top_p": 0.5, "max_tokens": 7, "seed": 3}
    assert all(_sampling(b) == expected for b in sent)
    assert _sampling(_playground_body(engine, batch_server, vid)) == expected  # what the Playground sends
    with session_scope(engine) as s:
        runs = s.execute(select(Run).where(Run.batch_job_id == job_id)).scalars().all()
        assert len(runs) == 3
        assert all(r.params == expected and r.version_id == vid and r.prompt_name == "merge" for r in runs)
        assert all(r.variables.get("question", "").startswith("what is q") for r in runs)


def test_provider_batch_sends_the_per_model_overrides(engine, batch_server):
    job_id, vid = _setup(engine, batch_server, "provider")
    assert worker.run_job_foreground(job_id, engine) == "done"
    lines = [json.loads(x) for x in batch_server.files[next(iter(batch_server.files))].decode().splitlines()]
    assert len(lines) == 3
    expected = {"temperature": 0.9, "top_p": 0.5, "max_tokens": 7, "seed": 3}
    assert all(_sampling(x["body"]) == expected for x in lines)
    assert _sampling(_playground_body(engine, batch_server, vid)) == expected
    with session_scope(engine) as s:
        runs = s.execute(select(Run).where(Run.batch_job_id == job_id)).scalars().all()
        assert len(runs) == 3 and all(r.params == expected and r.version_id == vid for r in runs)
