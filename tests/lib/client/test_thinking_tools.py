"""Anthropic extended thinking with tools: the signed thinking block of a tool-call answer is stored on
its Run and passed back unchanged on the next turn, so the conversation continues (the Messages API
answers 400 without it; the fake server checks it the same way). SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from lib import prompts
from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.client.providers import anthropic_format as fmt
from lib.models import Run
from tests.actors import ADMIN
from tests.fakefaults import Fault
from tests.fakeserver import thinking_signature

MSG = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
THOUGHT = "The user wants the weather; I should call the tool."
PARAMS = {"tools": WEATHER, "thinking_budget": 2048}


@pytest.fixture
def client(engine, fake_server):
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="an", kind="anthropic", base_url=fake_server.url)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oa", kind="openai", base_url=fake_server.url)
        s.commit()
    c = ModelClient(engine)
    yield c
    c.close()


def _call(client, streamed: bool, **kw):
    if streamed:
        stream = client.stream_sync(actor=ADMIN, **kw)
        stream.text()
        return stream.result
    return client.generate_sync(actor=ADMIN, **kw)


def _run(engine, run_id: int) -> Run:
    with Session(engine) as s:
        return s.exec(select(Run).where(Run.id == run_id)).one()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_thinking_tool_call_is_answered_and_continued(client, engine, fake_server, streamed):
    fake_server.script(Fault(reasoning=THOUGHT, tool_calls=[{"id": "toolu_1", "name": "get_weather",
                                                             "arguments": {"city": "Paris"}}]))
    first = _call(client, streamed, model="an/claude-x", messages=MSG, params=PARAMS)
    assert first.status == "ok" and first.reasoning == THOUGHT
    run = _run(engine, first.run_id)
    signed = {"type": "thinking", "thinking": THOUGHT, "signature": thinking_signature(THOUGHT)}
    assert run.thinking_blocks == [signed]
    thread = [*run.messages, prompts.assistant_turn(run.output, run.tool_calls, run.thinking_blocks)]
    thread = prompts.answer_tool(thread, "toolu_1", "18C and sunny")
    second = _call(client, streamed, model="an/claude-x", messages=thread, params=PARAMS, parent_run_id=run.id)
    assert second.status == "ok", second.error_message
    assert second.text == "echo: 18C and sunny"
    sent = fake_server.requests[-1].body["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["content"][0] == signed
    assert sent[1]["content"][1]["type"] == "tool_use"
    # the turn after that carries the earlier blocks in its messages (stored on the Run as sent)
    assert _run(engine, second.run_id).messages[1]["thinking_blocks"] == [signed]


def test_without_the_signed_block_the_api_refuses_the_turn(client, fake_server):
    """What happened before: the tool turn went back without its thinking block; the API said 400."""
    call = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "P"}'}}
    thread = [*MSG, {"role": "assistant", "content": None, "tool_calls": [call]},
              {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}]
    r = client.generate_sync(actor=ADMIN, model="an/claude-x", messages=thread, params=PARAMS)
    assert r.status == "error" and r.http_status == 400 and "must start with a thinking block" in r.error_message


def test_an_openai_compatible_server_never_gets_the_anthropic_blocks(client, fake_server):
    signed = {"type": "thinking", "thinking": "t", "signature": "sig"}
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    thread = [*MSG, {"role": "assistant", "content": None, "tool_calls": [call], "thinking_blocks": [signed]},
              {"role": "tool", "tool_call_id": "c1", "content": "18C"}]
    r = client.generate_sync(actor=ADMIN, model="oa/gpt-x", messages=thread, params={"tools": WEATHER})
    assert r.status == "ok"
    assert all("thinking_blocks" not in m for m in fake_server.requests[-1].body["messages"])


def test_saved_thread_versions_drop_the_signed_blocks():
    signed = {"type": "thinking", "thinking": "t", "signature": "sig"}
    msg = prompts.assistant_turn("", [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                                 [signed])
    assert msg["thinking_blocks"] == [signed]
    assert "thinking_blocks" not in prompts.thread_messages([*MSG, msg])[1]


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_a_forced_tool_choice_with_thinking_is_refused_before_any_call(client, fake_server, choice):
    """The Messages API refuses extended thinking with a forced tool (tool_choice any / tool): say so, send nothing."""
    r = client.generate_sync(actor=ADMIN, model="an/claude-x", messages=MSG, params={**PARAMS, "tool_choice": choice})
    assert r.status == "error" and r.error_kind == "bad_request"
    assert "tool_choice" in r.error_message and "thinking" in r.error_message
    assert fake_server.count() == 0
    ok = client.generate_sync(actor=ADMIN, model="an/claude-x", messages=MSG, params={**PARAMS, "tool_choice": "auto"})
    assert ok.status == "ok" and fake_server.requests[-1].body["tool_choice"] == {"type": "auto"}


def test_redacted_thinking_blocks_travel_unchanged_too():
    reply = [{"type": "redacted_thinking", "data": "EncRypted=="},
             {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "P"}}]
    blocks = fmt.signed_blocks(reply)
    assert blocks == [{"type": "redacted_thinking", "data": "EncRypted=="}]
    _text, reasoning, calls = fmt.read_blocks(reply, structured=False)
    turn = prompts.assistant_turn("", calls, blocks)
    _system, sent = fmt.convert_messages([*MSG, turn, {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}])
    assert sent[1]["content"][0] == {"type": "redacted_thinking", "data": "EncRypted=="} and reasoning is None
