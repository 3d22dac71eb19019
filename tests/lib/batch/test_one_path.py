"""One job, the same replies, run live and through the provider's Batch API: both modes store the same
Run rows and the same scores (tool evaluators see the tool calls, json-schema the version's schema, and
a custom evaluator that raises on one row scores that row as an error only)."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import select

from lib import prompts
from lib.batch import jobs as batch
from lib.batch import worker
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.datasets import store as datasets
from lib.db import session_scope
from lib.models import BatchItem, DatasetRow, Run, Score
from lib.settings import get_settings
from tests.actors import ADMIN
from tests.fake_batch_api import install
from tests.fakefaults import Fault
from tests.fakeserver import FakeServer

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
CHECKS = '''
def picky(output, row):
    if row["city"] == "Lyon":
        raise ValueError("Lyon breaks me")
    return True
'''
EVALUATORS = ["tool-called:get_weather", "json-schema", "python:checks:picky"]


def _replies() -> list[Fault]:
    """Per row, in order: a tool call, a reply that fits the schema, one that does not."""
    return [Fault(tool_calls=[{"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]),
            Fault(text='{"answer": "sunny"}'), Fault(text='{"wrong": 1}')]


@pytest.fixture
def server(monkeypatch, tmp_path):
    d = tmp_path / "evaluators"
    d.mkdir()
    (d / "checks.py").write_text(textwrap.dedent(CHECKS), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_EVALUATORS_DIR", str(d))
    monkeypatch.setenv("WORKBENCH_EVALUATOR_TIMEOUT_S", "5")
    monkeypatch.setenv("WORKBENCH_PROVIDER_POLL_S", "0.05")
    monkeypatch.setenv("FAKE_KEY", "sk-test-one-path")
    get_settings.cache_clear()
    srv = install(FakeServer().start())
    yield srv
    srv.stop()
    reset_clients()
    get_settings.cache_clear()


def _stored(engine, job_id: int) -> dict[str, tuple]:
    """Per dataset row (by city): the Run row's key fields and its scores."""
    with session_scope(engine) as s:
        out = {}
        for item, run, row in s.execute(select(BatchItem, Run, DatasetRow).join(Run, Run.id == BatchItem.run_id)
                                        .join(DatasetRow, DatasetRow.id == BatchItem.row_id)
                                        .where(BatchItem.job_id == job_id)).all():
            scores = sorted((sc.evaluator, sc.passed, sc.score, sc.reason) for sc in s.execute(
                select(Score).where(Score.run_id == run.id)).scalars())
            out[row.data["city"]] = (item.state, run.output, run.tool_calls, run.status, run.finish_reason,
                                     run.prompt_tokens, run.completion_tokens, run.messages, run.params,
                                     item.passed, item.score, scores)
        return out


def test_live_and_provider_batch_store_the_same_runs_and_scores(engine, server):
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url + "/v1",
                               api_key_env="FAKE_KEY")
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"city\nParis\nNice\nLyon\n", filename="c.csv",
                                     name="cities")
        s.commit()
        v = prompts.create_prompt(actor=ADMIN, session=s, name="weather", messages=[
            {"role": "user", "content": "{{city}}?"}], params={"tools": TOOLS, "response_format": {
                "type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA}}})
        jobs = {mode: batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id],
                                   models=["fake/gpt-x"], evaluators=EVALUATORS, concurrency=1, mode=mode).id
                for mode in ("live", "provider")}
    server.script(*_replies())
    assert worker.run_job_foreground(jobs["live"], engine) == "done"
    server.batch_line_faults = _replies()
    assert worker.run_job_foreground(jobs["provider"], engine) == "done"
    live, provider = _stored(engine, jobs["live"]), _stored(engine, jobs["provider"])
    assert set(live) == {"Paris", "Nice", "Lyon"}
    assert live["Paris"][2][0]["function"]["name"] == "get_weather"  # the tool call is on the Run
    by_eval = {e: (p, r) for e, p, _sc, r in live["Lyon"][-1]}
    assert by_eval["python:checks:picky"][0] is None and "Lyon breaks me" in by_eval["python:checks:picky"][1]
    assert by_eval["json-schema"][0] is False  # checked against the version's own response_format schema
    for city in live:
        assert provider[city] == live[city], city
