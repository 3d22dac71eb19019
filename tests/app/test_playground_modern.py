"""AppTest of the Playground with reasoning models, tools, images and a continued conversation
(fake server for both kinds; what the server received is asserted)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.models import Run
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts, values

PAGE = "pages/playground.py"
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _setup(engine, fake_server, **kw):
    with db.session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oai", kind="openai", base_url=fake_server.url,
                               models=["o3-mini"], options={"max_completion_tokens": True})
        endpoints.add_endpoint(actor=ADMIN, session=s, name="ant", kind="anthropic", base_url=fake_server.url,
                               models=["claude-thinker"])
        prompts.create_prompt(actor=ADMIN, session=s, name="ask", messages=[{"role": "user",
                              "content": "Weather in {{city}}?"}],
                              **kw)


def _runs(engine):
    with db.session_scope(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)))


def _open():
    reset_clients()
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("model", ["oai/o3-mini", "ant/claude-thinker"])
def test_reasoning_model_from_the_defaults_gets_no_temperature_and_no_max_tokens(engine_for_app, fake_server, model):
    _setup(engine_for_app, fake_server)
    at = _open()
    at.text_area(key="play_var_city").input("Paris")
    at.selectbox(key="play_model").set_value(model)
    at.run()
    assert not at.checkbox(key="play_on_temperature").value and not at.checkbox(key="play_on_max_tokens").value
    assert "Sent: the messages only (provider defaults)" in texts(at)
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sent = fake_server.requests[-1].body
    assert "temperature" not in sent and "max_completion_tokens" not in sent
    if model.startswith("oai/"):
        assert "max_tokens" not in sent
    else:  # the Messages API requires max_tokens: the provider's own default, not the form's
        assert sent["max_tokens"] == 1024
    assert _runs(engine_for_app)[-1].params == {}


def test_switched_on_max_tokens_goes_out_as_max_completion_tokens(engine_for_app, fake_server):
    _setup(engine_for_app, fake_server)
    at = _open()
    at.text_area(key="play_var_city").input("Paris")
    at.selectbox(key="play_model").set_value("oai/o3-mini")
    at.checkbox(key="play_on_max_tokens").check()
    at.selectbox(key="play_reasoning_effort").set_value("low")
    at.run()
    assert "Sent: max_tokens, reasoning_effort" in texts(at)
    at.button(key="play_run").click().run()
    sent = fake_server.requests[-1].body
    assert sent["max_completion_tokens"] == 512 and "max_tokens" not in sent and sent["reasoning_effort"] == "low"


def test_bad_tools_json_is_an_error_naming_the_line_and_no_call(engine_for_app, fake_server):
    _setup(engine_for_app, fake_server)
    at = _open()
    at.text_area(key="play_var_city").input("Paris")
    at.selectbox(key="play_model").set_value("oai/o3-mini")
    at.text_area(key="play_json_tools").input('[\n  {"type": "function",\n   "function": {"name": "x y"}}\n]')
    at.run()
    assert any(e.startswith("tools[0].function.name (line 3)") for e in values(at.error)), values(at.error)
    assert next(b for b in at.button if b.key == "play_run").disabled
    assert fake_server.count("/v1/chat/completions") == 0


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_tool_call_is_shown_answered_and_the_conversation_continues(engine_for_app, fake_server):
    from tests.fakefaults import Fault

    _setup(engine_for_app, fake_server, model="oai/gpt-4o", params={"tools": WEATHER})
    fake_server.script(Fault(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]))
    at = _open()
    at.text_area(key="play_var_city").input("Paris")
    at.run()
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    page = texts(at)
    assert "Tool call: get_weather (call_1)" in page and "(empty answer)" not in page
    assert any('"city": "Paris"' in c.value for c in at.code)
    [first] = _runs(engine_for_app)
    assert first.output == "" and first.tool_calls[0]["function"]["name"] == "get_weather"
    at.button(key="play_send_tools").click().run()  # nothing typed: a clear message, no call
    assert any("type the tool's result first" in e for e in values(at.error))
    assert fake_server.count("/v1/chat/completions") == 1
    at.text_area(key=f"play_toolres_{first.id}_call_1").input("18C and sunny")
    at.button(key="play_send_tools").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sent = fake_server.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1" and sent[2] == {"role": "tool", "tool_call_id": "call_1",
                                                                       "content": "18C and sunny"}
    second = _runs(engine_for_app)[-1]
    assert second.parent_run_id == first.id and second.output == "echo: 18C and sunny"
    assert f"continuing run #{first.id}" in texts(at)
    at.text_area(key=f"play_next_{second.id}").input("And tomorrow?")
    at.button(key="play_send_next").click().run()
    assert not at.exception, [e.value for e in at.exception]
    third = _runs(engine_for_app)[-1]
    assert third.parent_run_id == second.id
    assert [m["role"] for m in fake_server.requests[-1].body["messages"]] == ["user", "assistant", "tool",
                                                                                "assistant", "user"]
    at.button(key="play_save_thread_version").click().run()
    assert any("Saved ask:2" in s for s in values(at.success)), values(at.success)
    at.text_input(key="play_thread_dataset").input("threads")
    at.button(key="play_save_thread_row").click().run()
    assert any("Saved as dataset 'threads'" in s for s in values(at.success)), values(at.success)
    with db.session_scope(engine_for_app) as s:
        v2 = prompts.resolve(session=s, ref="ask:2")
        assert [m["role"] for m in v2.messages] == ["user", "assistant", "tool", "assistant", "user", "assistant"]


def test_image_attached_and_sent_and_a_fake_image_refused(engine_for_app, fake_server):
    _setup(engine_for_app, fake_server, model="ant/claude-thinker")
    at = _open()
    at.text_area(key="play_var_city").input("Paris")
    at.file_uploader(key="play_media").set_value(("page.png", b"<html>not an image</html>", "image/png"))
    at.run()
    assert any("page.png: not a PNG" in e for e in values(at.error)), values(at.error)
    assert next(b for b in at.button if b.key == "play_run").disabled
    at.file_uploader(key="play_media").set_value(("photo.bin", PNG, "application/octet-stream"))
    at.run()
    assert "photo.bin: image/png" in texts(at) and "(images: a rough guess)" in texts(at)
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    blocks = fake_server.requests[-1].body["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "Weather in Paris?"}
    assert blocks[1]["type"] == "image" and blocks[1]["source"]["media_type"] == "image/png"
    assert _runs(engine_for_app)[-1].messages[0]["content"][1]["type"] == "image_url"


def test_structured_output_is_checked_against_the_versions_schema(engine_for_app, fake_server):
    from tests.fakefaults import Fault

    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    _setup(engine_for_app, fake_server, model="oai/gpt-4o", params={"response_format": {
        "type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}})
    fake_server.script(Fault(text='{"answer": "sunny"}'), Fault(text='{"other": 1}'))
    at = _open()
    at.text_area(key="play_var_city").input("Paris")
    at.run()
    at.button(key="play_run").click().run()
    assert any("valid JSON matching the schema" in s for s in values(at.success)), values(at.success)
    assert fake_server.requests[-1].body["response_format"]["json_schema"]["schema"] == schema
    assert "Parsed answer" in [e.label for e in at.expander]
    at.button(key="play_run").click().run()
    assert any("schema violation" in w for w in values(at.warning)), values(at.warning)
