"""Providers against the fake server: tool calls (streamed and not), reasoning, reasoning-model request
building, content parts and structured output, for both kinds."""

from __future__ import annotations

import json

import pytest

from lib.client.providers import make_provider
from lib.client.providers.base import ChatRequest, EndpointConfig
from lib.client.providers.openai_compat import wants_max_completion_tokens
from tests.fakefaults import Fault

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
MSGS = [{"role": "system", "content": "S"}, {"role": "user", "content": "Weather in Paris?"}]


def _provider(kind: str, server, **options):
    return make_provider(EndpointConfig(name="p", kind=kind, base_url=server.url, options=options))


async def _call(provider, request: ChatRequest, streamed: bool):
    if not streamed:
        return await provider.complete(request), []
    events = [e async for e in provider.stream(request)]
    assert events[-1].type == "done"
    return events[-1].response, [e.text for e in events if e.type == "delta"]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_call_arrives_whole(fake_server, kind, streamed):
    args = {"city": "Paris", "unit": "celsius", "note": "a long enough value to span several chunks"}
    fake_server.script(Fault(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": args}]))
    p = _provider(kind, fake_server)
    resp, _ = await _call(p, ChatRequest(model="m", messages=MSGS, params={"tools": [WEATHER],
                                                                           "tool_choice": "auto"}), streamed)
    assert resp.text == ""
    (call,) = resp.tool_calls
    assert call["id"] == "call_1" and call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == args
    assert resp.finish_reason in ("tool_calls", "tool_use")
    sent = fake_server.requests[-1].body
    if kind == "anthropic":  # tools translated to {name, description, input_schema}
        assert sent["tools"] == [{"name": "get_weather", "description": "Weather in a city",
                                  "input_schema": WEATHER["function"]["parameters"]}]
        assert sent["tool_choice"] == {"type": "auto"}
    else:
        assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_reasoning_text_and_tokens(fake_server, kind, streamed):
    fake_server.script(Fault(text="42", reasoning="Let me think about this carefully.", reasoning_tokens=30))
    resp, deltas = await _call(_provider(kind, fake_server),
                               ChatRequest(model="m", messages=MSGS, params={"reasoning_effort": "low"}), streamed)
    assert resp.text == "42" and resp.reasoning == "Let me think about this carefully."
    if streamed:
        assert "".join(deltas) == "42"  # the reasoning is not mixed into the answer
    sent = fake_server.requests[-1].body
    if kind == "openai":
        assert resp.reasoning_tokens == 30 and sent["reasoning_effort"] == "low"
    else:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert sent["max_tokens"] > 2048


@pytest.mark.parametrize("streamed", [False, True])
async def test_openai_reasoning_model_gets_max_completion_tokens(fake_server, streamed):
    p = _provider("openai", fake_server, max_completion_tokens=True)
    await _call(p, ChatRequest(model="o3-mini", messages=MSGS, params={"max_tokens": 300}), streamed)
    sent = fake_server.requests[-1].body
    assert sent["max_completion_tokens"] == 300 and "max_tokens" not in sent
    await _call(_provider("openai", fake_server), ChatRequest(model="o3-mini", messages=MSGS,
                                                              params={"max_tokens": 300}), streamed)
    assert fake_server.requests[-1].body["max_tokens"] == 300  # not api.openai.com, no option: unchanged


def test_max_completion_tokens_is_automatic_for_openai_reasoning_models():
    api = "https://api.openai.com/v1"
    assert wants_max_completion_tokens(api, {}, "o3-mini") and wants_max_completion_tokens(api, {}, "gpt-5-nano")
    assert not wants_max_completion_tokens(api, {}, "gpt-4o-mini")
    assert not wants_max_completion_tokens("http://localhost:8000/v1", {}, "o3-mini")
    assert not wants_max_completion_tokens(api, {"max_completion_tokens": False}, "o3")


async def test_anthropic_thinking_drops_temperature(fake_server):
    p = _provider("anthropic", fake_server)
    await p.complete(ChatRequest(model="c", messages=MSGS, params={"thinking_budget": 4000, "temperature": 0.2,
                                                                   "top_k": 5}))
    sent = fake_server.requests[-1].body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert "temperature" not in sent and "top_k" not in sent and sent["max_tokens"] == 4000 + 1024


async def test_openai_does_not_get_the_anthropic_budget(fake_server):
    await _provider("openai", fake_server).complete(ChatRequest(model="m", messages=MSGS,
                                                                params={"thinking_budget": 4000}))
    assert "thinking_budget" not in fake_server.requests[-1].body


async def test_tool_conversation_translated_for_anthropic(fake_server):
    call = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    msgs = [*MSGS, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C and sunny"}]
    resp = await _provider("anthropic", fake_server).complete(ChatRequest(model="c", messages=msgs,
                                                                          params={"tools": [WEATHER]}))
    sent = fake_server.requests[-1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                         "input": {"city": "Paris"}}]}
    assert sent[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                                    "content": "18C and sunny"}]}
    assert resp.text == "echo: 18C and sunny"


async def test_image_and_pdf_parts(fake_server):
    parts = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
             {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}]
    msgs = [{"role": "user", "content": parts}]
    await _provider("openai", fake_server).complete(ChatRequest(model="m", messages=msgs))
    assert fake_server.requests[-1].body["messages"][0]["content"] == parts  # OpenAI: sent as given
    await _provider("anthropic", fake_server).complete(ChatRequest(model="c", messages=msgs))
    blocks = fake_server.requests[-1].body["messages"][0]["content"]
    assert blocks == [{"type": "text", "text": "What is this?"},
                      {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                   "data": "iVBORw0KGgo="}},
                      {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                      {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                                      "data": "JVBERi0="}}]


@pytest.mark.parametrize("streamed", [False, True])
async def test_anthropic_structured_output_is_a_forced_tool_read_back_as_the_answer(fake_server, streamed):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    rf = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}
    fake_server.script(Fault(tool_calls=[{"name": "structured_output", "arguments": {"answer": "yes"}}]))
    resp, _ = await _call(_provider("anthropic", fake_server),
                          ChatRequest(model="c", messages=MSGS, params={"response_format": rf}), streamed)
    assert json.loads(resp.text) == {"answer": "yes"} and resp.tool_calls is None
    sent = fake_server.requests[-1].body
    assert sent["tool_choice"] == {"type": "tool", "name": "structured_output"}
    assert sent["tools"][0]["input_schema"] == schema and "response_format" not in sent
