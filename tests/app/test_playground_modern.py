"""AppTest of the Playground with reasoning models, tools, images and a continued conversation
(fake server for both kinds; what the server received is asserted)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.models import Run
from tests.app.conftest import new_app, texts, values

PAGE = "pages/playground.py"
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _setup(engine, fake_server, **kw):
    with db.session_scope(engine) as s:
        endpoints.add_endpoint(session=s, name="oai", kind="openai", base_url=fake_server.url,
                               models=["o3-mini"], options={"max_completion_tokens": True})
        endpoints.add_endpoint(session=s, name="ant", kind="anthropic", base_url=fake_server.url,
                               models=["claude-thinker"])
        prompts.create_prompt(session=s, name="ask", messages=[{"role": "user", "content": "Weather in {{city}}?"}],
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
