"""A batch whose version holds tools and a response_format schema, run through the real client against
the fake server: tool evaluators see the tool calls, json-schema checks the version's own schema, and
the results and export carry the tool calls."""

from __future__ import annotations

import asyncio
import json

from lib import prompts
from lib.batch import jobs as batch
from lib.batch import reports as batch_results
from lib.batch.runner import JobRunner
from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.datasets import store as datasets
from lib.db import session_scope
from tests.actors import ADMIN
from tests.fakefaults import Fault

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def test_tool_calls_are_scored_and_exported(engine, fake_server, tmp_path):
    fake_server.script(*[Fault(tool_calls=[{"id": f"c{i}", "name": "get_weather", "arguments": {"city": "Paris"}}])
                         for i in range(2)], Fault(text='{"answer": "sunny"}'), Fault(text='{"wrong": 1}'))
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url)
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"city\nParis\nLyon\n", filename="c.csv",
                                     name="cities")
        s.commit()
        tool_v = prompts.create_prompt(actor=ADMIN, session=s, name="tooly", messages=[{"role": "user",
                                       "content": "{{city}}?"}],
                                       params={"tools": TOOLS})
        json_v = prompts.create_prompt(actor=ADMIN, session=s, name="jsony", messages=[{"role": "user",
                                       "content": "{{city}}?"}],
                                       params={"response_format": {"type": "json_schema", "json_schema": {
                                           "name": "reply", "schema": SCHEMA}}})
        tool_job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[tool_v.id],
                                models=["fake/gpt-x"],
                                evaluators=["tool-called:get_weather", "is-valid-openai-tools-call",
                                            'tool-args-match:{"required": ["city"]}'], concurrency=1).id
        json_job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[json_v.id],
                                models=["fake/gpt-x"],
                                evaluators=["json-schema"], concurrency=1).id
    client = ModelClient(engine)
    try:
        for job_id in (tool_job, json_job):
            assert asyncio.run(JobRunner(engine, job_id, client=client).run()) == "done"
    finally:
        client.close()
    with session_scope(engine) as s:
        rows, _ = batch_results.results(session=s, job_id=tool_job)
        assert all(r["passed"] is True and r["tool_calls"][0]["function"]["name"] == "get_weather" for r in rows)
        flat = list(batch_results.records(session=s, job_id=tool_job))
        assert json.loads(flat[0]["tool_calls"])[0]["function"]["arguments"] == '{"city": "Paris"}'
        assert flat[0]["output"] == ""
        rows, _ = batch_results.results(session=s, job_id=json_job)
        assert sorted(r["passed"] for r in rows) == [False, True]
