"""Prompt content beyond text: tools / tool_choice / response_format validated as JSON Schema, tool and
tool-call messages, content parts (only text templated), placeholders expanding a history list."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, func, select

from lib import prompts
from lib.errors import MissingVariablesError, ValidationError
from lib.models import PromptVersion
from tests.actors import ADMIN

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
MSGS = [{"role": "user", "content": "Weather in {{city}}?"}]


@pytest.fixture
def s(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _versions(s) -> int:
    return s.exec(select(func.count()).select_from(PromptVersion)).one()


def test_version_holds_tools_tool_choice_and_response_format(s):
    rf = {"type": "json_schema", "json_schema": {"name": "reply", "strict": True,
                                                 "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    v = prompts.create_prompt(actor=ADMIN, session=s, name="w", messages=MSGS, model="echo/echo",
                              params={"tools": [WEATHER], "tool_choice": "required", "response_format": rf,
                                      "reasoning_effort": "low"})
    assert v.params["tools"] == [WEATHER] and prompts.response_schema(v.params)["type"] == "object"


@pytest.mark.parametrize(("params", "field"), [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "strin"}}}]},
     "tools[0].function.parameters.type"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
    ({"tools": {"name": "f"}}, "tools"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": 3}}}},
     "response_format.json_schema.schema.type"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"thinking_budget": 10}, "thinking_budget"),
])
def test_bad_tool_or_schema_json_names_the_field_and_saves_nothing(s, params, field):
    prompts.create_prompt(actor=ADMIN, session=s, name="w", messages=MSGS)
    before = _versions(s)
    with pytest.raises(ValidationError) as ei:
        prompts.save_version(actor=ADMIN, session=s, name="w", messages=MSGS, params=params)
    assert str(ei.value).startswith(field)
    assert _versions(s) == before


def test_json_text_errors_point_at_the_line():
    text = '[\n  {"type": "function",\n   "function": {"name": "f",\n     "parameters": {"type": "strin"}}}\n]'
    with pytest.raises(ValidationError) as ei:
        prompts.validate_tools(json.loads(text), text)
    assert "tools[0].function.parameters.type (line 4)" in str(ei.value)
    with pytest.raises(ValidationError) as ei:
        prompts.parse_json_field('[\n  {"type": "function",,}\n]', "tools")
    assert str(ei.value).startswith("tools: not valid JSON at line 2, column")


def test_tool_messages_and_parts_are_kept_and_only_text_is_templated(s):
    msgs = [{"role": "user", "content": [{"type": "text", "text": "Describe {{thing}}"},
                                         {"type": "image_url", "image_url": {"url": "https://x.test/{{thing}}.png"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "look", "arguments": {"q": "{{thing}}"}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a {{thing}}"}]
    v = prompts.create_prompt(actor=ADMIN, session=s, name="parts", messages=msgs)
    assert v.messages[1]["tool_calls"][0]["function"]["arguments"] == '{"q": "{{thing}}"}'
    out = prompts.render(v, {"thing": "cat"})
    assert out[0]["content"] == [{"type": "text", "text": "Describe cat"},
                                 {"type": "image_url", "image_url": {"url": "https://x.test/{{thing}}.png"}}]
    assert out[1]["tool_calls"] == v.messages[1]["tool_calls"]
    assert out[2] == {"role": "tool", "tool_call_id": "c1", "content": "a cat"}
    assert prompts.message_text(v.messages[0]) == "Describe {{thing}}\n[image]"
    assert prompts.message_text(v.messages[1]) == "-> look({\"q\": \"{{thing}}\"})"


@pytest.mark.parametrize(("msg", "needle"), [
    ({"role": "tool", "content": "x"}, "tool_call_id"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x.test/a.png"}}]}, "https"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:text/html;base64,PGI+"}}]},
     "data:image"),
    ({"role": "user", "content": [{"type": "file", "file": {"file_data": "data:image/png;base64,AA=="}}]},
     "application/pdf"),
    ({"role": "user", "content": [{"type": "audio"}]}, "part 1"),
    ({"role": "placeholder"}, "name"),
])
def test_bad_messages_are_refused(s, msg, needle):
    with pytest.raises(ValidationError) as ei:
        prompts.create_prompt(actor=ADMIN, session=s, name="bad", messages=[{"role": "system", "content": "S"}, msg])
    assert needle in str(ei.value) and "message 2" in str(ei.value)


def test_placeholder_expands_a_history_list():
    msgs = [{"role": "system", "content": "Be {{tone}}."}, {"role": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"}]
    assert prompts.variables(msgs) == ["tone", "history", "question"]
    history = [{"role": "user", "content": "hi {{tone}}"}, {"role": "assistant", "content": "hello"}]
    out = prompts.render_messages(msgs, {"tone": "kind", "history": json.dumps(history), "question": "why?"})
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user"]
    assert out[1]["content"] == "hi {{tone}}"  # a history is never templated


@pytest.mark.parametrize(("value", "needle"), [
    ("not json", "JSON list"), ('{"role": "user"}', "list of messages"), ([{"role": "wizard"}], "item 1")])
def test_placeholder_fed_a_non_list_is_one_clear_error(value, needle):
    msgs = [{"role": "placeholder", "name": "history"}, {"role": "user", "content": "q"}]
    with pytest.raises(ValidationError) as ei:
        prompts.render_messages(msgs, {"history": value})
    assert "'history'" in str(ei.value) and needle in str(ei.value)
    with pytest.raises(MissingVariablesError):
        prompts.render_messages(msgs, {})


def test_langfuse_sdk_placeholder_shape_is_accepted(s):
    v = prompts.create_prompt(actor=ADMIN, session=s, name="lf", messages=[
        {"type": "placeholder", "name": "chat_history"}, {"type": "chatmessage", "role": "user", "content": "{{q}}"}])
    assert v.messages == [{"role": "placeholder", "name": "chat_history"}, {"role": "user", "content": "{{q}}"}]
