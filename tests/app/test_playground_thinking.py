"""AppTest: in the Playground an Anthropic tool call made with extended thinking is answered and the
conversation continues (the signed thinking block goes back unchanged; the fake server refuses the
turn without it, as the Messages API does with a 400)."""

from __future__ import annotations

from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.models import Run
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts, values
from tests.fakefaults import Fault
from tests.fakeserver import thinking_signature

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
THOUGHT = "I need the weather tool for this."


def test_thinking_tool_call_is_answered_and_continued(engine_for_app, fake_server):
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="ant", kind="anthropic", base_url=fake_server.url,
                               models=["claude-thinker"])
        prompts.create_prompt(actor=ADMIN, session=s, name="ask", messages=[{"role": "user",
                              "content": "Weather in {{city}}?"}], model="ant/claude-thinker",
                              params={"tools": WEATHER, "thinking_budget": 2048})
    fake_server.script(Fault(reasoning=THOUGHT, tool_calls=[{"id": "toolu_1", "name": "get_weather",
                                                             "arguments": {"city": "Paris"}}]))
    reset_clients()
    at = new_app("pages/playground.py")
    at.text_area(key="play_var_city").input("Paris")
    at.run()
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert fake_server.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "Tool call: get_weather (toolu_1)" in texts(at)
    with db.session_scope(engine_for_app) as s:
        first = s.exec(select(Run).order_by(Run.id.desc())).first()
    at.text_area(key=f"play_toolres_{first.id}_toolu_1").input("18C and sunny")
    at.button(key="play_send_tools").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("must start with a thinking block" in e for e in values(at.error)), values(at.error)
    sent = fake_server.requests[-1].body["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": THOUGHT, "signature": thinking_signature(THOUGHT)}
    with db.session_scope(engine_for_app) as s:
        second = s.exec(select(Run).order_by(Run.id.desc())).first()
        assert (second.status, second.parent_run_id, second.output) == ("ok", first.id, "echo: 18C and sunny")
