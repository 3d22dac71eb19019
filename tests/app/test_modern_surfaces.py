"""AppTests for #13 surfaces beyond the Playground's own file: Compare's defaults send no sampling
controls to a reasoning model of either kind, and a `placeholder` fed a non-list in the Playground is
one clear error naming the message and the variable, with no call (a list expands and is sent)."""

from __future__ import annotations

from lib import db, prompts
from lib.client import endpoints
from lib.client.model_client import reset_clients
from tests.actors import ADMIN
from tests.app.conftest import new_app, values


def test_compare_defaults_send_no_temperature_and_no_max_tokens(engine_for_app, fake_server):
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oai", kind="openai", base_url=fake_server.url,
                               models=["o3-mini"])
        endpoints.add_endpoint(actor=ADMIN, session=s, name="ant", kind="anthropic", base_url=fake_server.url,
                               models=["claude-x"])
        prompts.create_prompt(actor=ADMIN, session=s, name="g", messages=[{"role": "user", "content": "Hi {{who}}"}],
                              model="oai/o3-mini")
    reset_clients()
    at = new_app("pages/compare.py")
    at.number_input(key="cmp_n").set_value(2).run()
    at.selectbox(key="cmp_model_0").set_value("oai/o3-mini")
    at.selectbox(key="cmp_model_1").set_value("ant/claude-x")
    at.text_area(key="cmp_var_who").input("Ada")
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sent = {r.path: r.body for r in fake_server.requests}
    oai, ant = sent["/v1/chat/completions"], sent["/v1/messages"]
    assert not {"temperature", "max_tokens", "max_completion_tokens", "top_p"} & set(oai), oai
    assert not {"temperature", "top_p", "top_k"} & set(ant), ant
    assert ant["max_tokens"] == 1024  # the Messages API requires one: the provider default, not a form value


def test_playground_placeholder_fed_a_non_list_is_one_error_and_no_call(engine_for_app, fake_server):
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oai", kind="openai", base_url=fake_server.url,
                               models=["gpt-x"])
        prompts.create_prompt(actor=ADMIN, session=s, name="chat", model="oai/gpt-x", messages=[
            {"role": "placeholder", "name": "history"}, {"role": "user", "content": "Hi {{who}}"}])
    reset_clients()
    at = new_app("pages/playground.py")
    at.text_area(key="play_var_who").input("Ada")
    at.text_area(key="play_var_history").input('{"role": "user"}')
    at.run()
    assert values(at.error) == ["message 1 (placeholder): variable 'history' must be a list of messages, got dict"]
    assert next(b for b in at.button if b.key == "play_run").disabled
    at.text_area(key="play_var_history").input('[{"role": "user", "content": "earlier"}, '
                                               '{"role": "assistant", "content": "noted"}]')
    at.run()
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [r.path for r in fake_server.requests] == ["/v1/chat/completions"]
    assert [m["content"] for m in fake_server.requests[0].body["messages"]] == ["earlier", "noted", "Hi Ada"]
