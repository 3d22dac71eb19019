"""Tool calls, reasoning and conversation turns through the one executor into Run rows (fake server,
SQLite and PostgreSQL); bad placeholder input is refused before any call."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.errors import ValidationError
from lib.models import Run
from tests.actors import ADMIN
from tests.fakefaults import Fault

MSG = [{"role": "user", "content": "Weather in Paris?"}]
ARGS = {"city": "Paris", "days": 3}


@pytest.fixture
def client(engine, fake_server):
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oa", kind="openai", base_url=fake_server.url)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="an", kind="anthropic", base_url=fake_server.url)
        s.commit()
    c = ModelClient(engine)
    yield c
    c.close()


def _runs(engine) -> list[Run]:
    with Session(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)))


@pytest.mark.parametrize("model", ["oa/gpt-x", "an/claude-x"])
@pytest.mark.parametrize("streamed", [False, True])
def test_tool_call_reply_is_stored_whole_not_as_an_empty_answer(client, engine, fake_server, model, streamed):
    fake_server.script(Fault(tool_calls=[{"id": "call_9", "name": "get_weather", "arguments": ARGS}],
                             reasoning="I should look it up.", reasoning_tokens=12))
    kw = {"model": model, "messages": MSG, "source": "playground"}
    if streamed:
        stream = client.stream_sync(actor=ADMIN, **kw)
        assert stream.text() == ""
        r = stream.result
    else:
        r = client.generate_sync(actor=ADMIN, **kw)
    assert r.status == "ok" and r.text == "" and r.tool_calls[0]["function"]["name"] == "get_weather"
    assert json.loads(r.tool_calls[0]["function"]["arguments"]) == ARGS
    assert r.reasoning == "I should look it up."
    (run,) = _runs(engine)
    assert run.tool_calls == r.tool_calls and run.reasoning == "I should look it up." and run.output == ""
    if model.startswith("oa/"):
        assert run.reasoning_tokens == 12 and run.completion_tokens >= 12  # reasoning tokens are priced output


def test_conversation_turns_are_linked(client, engine, fake_server):
    first = client.generate_sync(actor=ADMIN, model="oa/gpt-x", messages=MSG)
    thread = [*MSG, {"role": "assistant", "content": first.text}, {"role": "user", "content": "And tomorrow?"}]
    second = client.generate_sync(actor=ADMIN, model="oa/gpt-x", messages=thread, parent_run_id=first.run_id)
    assert second.text == "echo: And tomorrow?"
    runs = _runs(engine)
    assert runs[1].parent_run_id == runs[0].id and runs[0].parent_run_id is None
    assert fake_server.requests[-1].body["messages"] == thread  # the whole thread was sent


def test_placeholder_fed_a_non_list_makes_no_call(client, engine, fake_server):
    msgs = [{"role": "placeholder", "name": "history"}, {"role": "user", "content": "{{q}}"}]
    with pytest.raises(ValidationError, match="'history' must be a list of messages"):
        client.generate_sync(actor=ADMIN, model="oa/gpt-x", messages=msgs, variables={"history": '{"a": 1}', "q": "x"})
    assert fake_server.count() == 0 and _runs(engine) == []
    r = client.generate_sync(actor=ADMIN, model="oa/gpt-x", messages=msgs, variables={
        "history": json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]),
        "q": "next"})
    assert r.ok and [m["role"] for m in fake_server.requests[-1].body["messages"]] == ["user", "assistant", "user"]
