"""AppTest of the Playground: variables form, preview, run on echo and the fake server, errors, reopen, presets."""

from __future__ import annotations

import json

from sqlmodel import delete, select

from lib import db, prompts
from lib.client import endpoints
from lib.client.model_client import reset_clients
from lib.models import PageState, Run
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts, values

PAGE = "pages/playground.py"


def _make(engine, name="greet", content="Hi {{who}}, about {{topic.name}}", **kw):
    with db.session_scope(engine) as s:
        return prompts.create_prompt(actor=ADMIN, session=s, name=name, messages=[{"role": "user",
                                     "content": content}], **kw)


def _runs(engine):
    with db.session_scope(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)))


def _open(query=None):
    reset_clients()
    at = new_app(PAGE, query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _codes(at) -> list[str]:
    return [c.value for c in at.code]


def test_fill_variables_preview_and_run_on_echo(engine_for_app):
    _make(engine_for_app, model="echo/echo", params={"temperature": 0.5})
    at = _open()
    assert "Missing values: who, topic.name" in texts(at)
    assert not any(b.key == "play_run" and not b.disabled for b in at.button)
    at.text_area(key="play_var_who").input("Ada")
    at.text_area(key="play_var_topic").input('{"name": "tea"')  # broken JSON is an inline error
    at.run()
    assert any("topic: not valid JSON" in e for e in values(at.error))
    at.text_area(key="play_var_topic").input('{"name": "tea"}')
    at.run()
    assert "Hi Ada, about tea" in _codes(at)
    assert "prompt tokens (estimate)" in texts(at)
    assert at.number_input(key="play_temperature").value == 0.5
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "[user] Hi Ada, about tea" in _codes(at)
    page = texts(at)
    assert "finish: stop" in page and "TTFT" in page
    [run] = _runs(engine_for_app)
    assert run.source == "playground" and run.variables == {"who": "Ada", "topic": {"name": "tea"}}
    assert run.prompt_name == "greet" and run.version_number == 1 and run.params["temperature"] == 0.5
    assert at.query_params["run"] in ([str(run.id)], str(run.id))
    costs = [m.value for m in at.metric if m.label.startswith("Cost")]
    assert costs == ["$0"]  # echo is free and known
    # #15 item 9: Run folds the preview away and scrolls the window to the answer (one fixed script
    # naming only the answer's anchor)
    assert next(x for x in at.expander if x.label == "Preview").proto.expanded is False
    frames = [f.proto.srcdoc for f in at.get("iframe")]
    assert len(frames) == 1 and ".st-key-play_answer" in frames[0] and "Ada" not in frames[0], frames
    at.run()  # a rerun that is not a Run does not scroll again
    assert len(at.get("iframe")) == 0


def test_reopen_a_run_by_permalink_fills_the_form(engine_for_app):
    v = _make(engine_for_app)
    at = _open()
    at.text_area(key="play_var_who").input("Bo")
    at.text_area(key="play_var_topic").input('{"name": "jam"}')
    at.run()
    at.button(key="play_run").click().run()
    [run] = _runs(engine_for_app)
    same = _open({"run": str(run.id)})  # a reload by the same person: exactly what was on screen
    assert same.selectbox(key="play_ref").value == "greet" and same.text_area(key="play_var_who").value == "Bo"
    with db.session_scope(engine_for_app) as s:  # someone else (no saved working state) opens the permalink
        s.execute(delete(PageState))
    at2 = _open({"run": str(run.id)})
    assert f"Answer (run #{run.id})" in texts(at2)
    assert at2.text_area(key="play_var_who").value == "Bo"
    assert '"name": "jam"' in at2.text_area(key="play_var_topic").value
    assert at2.selectbox(key="play_ref").value == f"greet:{v.number}"
    at3 = _open({"run": "99999"})
    assert any("Cannot open run" in w for w in values(at3.warning))


def test_load_variables_from_a_past_run(engine_for_app):
    _make(engine_for_app, content="Say {{word}}")
    at = _open()
    at.text_area(key="play_var_word").input("first")
    at.run()
    at.button(key="play_run").click().run()
    at.text_area(key="play_var_word").input("second")
    at.run()
    assert at.text_area(key="play_var_word").value == "second"
    at.button(key="play_load_vars").click().run()
    assert at.text_area(key="play_var_word").value == "first"


def test_errors_show_as_messages_not_tracebacks(engine_for_app, fake_server, monkeypatch):
    from tests.fakefaults import Fault

    _make(engine_for_app, content="Say {{word}}")
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url + "/v1",
                               api_key_env="FAKE_KEY", models=["gpt-x"])
    at = _open()
    at.text_area(key="play_var_word").input("hi")
    at.selectbox(key="play_model").set_value("fake/gpt-x")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="play_run").click().run()
    assert not at.exception
    assert "echo: Say hi" in _codes(at)
    assert [m.value for m in at.metric if m.label == "Tokens"] == ["11 in / 3 out"]  # provider usage
    fake_server.script(Fault(status=401))
    at.button(key="play_run").click().run()
    assert not at.exception
    errs = values(at.error)
    assert any("The call failed: auth" in e and "HTTP 401" in e for e in errs), errs
    _make(engine_for_app, name="lost", content="Say {{word}}", model="nowhere/model")
    at.run()
    at.selectbox(key="play_prompt").set_value("lost").run()
    assert at.selectbox(key="play_model").value == "nowhere/model"  # the version's default model
    at.button(key="play_run").click().run()
    assert not at.exception
    assert any("unknown endpoint 'nowhere'" in e for e in values(at.error))
    assert [r.status for r in _runs(engine_for_app)] == ["ok", "error"]


def test_preset_fills_parameters_and_saves_as_a_prompt(engine_for_app):
    _make(engine_for_app)
    at = _open()
    at.radio(key="play_source").set_value("Task preset").run()
    at.selectbox(key="play_preset").set_value("codegen").run()
    assert at.number_input(key="play_temperature").value == 0.0
    assert at.number_input(key="play_max_tokens").value == 2048
    at.button(key="play_fill_example").click().run()
    assert at.text_area(key="play_var_language").value == "Python"
    at.button(key="play_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.startswith("[system] You are a senior Python engineer") for c in _codes(at))
    run = _runs(engine_for_app)[-1]
    assert run.version_id is None and run.params == {"temperature": 0.0, "max_tokens": 2048}
    at.text_input(key="play_preset_name").input("my-coder")
    at.button(key="play_preset_save").click().run()
    assert any("Saved my-coder:1" in s for s in values(at.success))
    with db.session_scope(engine_for_app) as s:
        assert prompts.resolve(session=s, ref="my-coder").params["max_tokens"] == 2048


def test_form_and_last_answer_survive_switching_pages(engine_for_app):
    _make(engine_for_app, content="Say {{word}}")
    at = _open()
    at.text_area(key="play_var_word").input("kept")
    at.checkbox(key="play_on_temperature").check().run()  # off by default: the version sets no temperature
    at.number_input(key="play_temperature").set_value(1.1)
    at.run()
    at.button(key="play_run").click().run()
    at.switch_page("pages/home.py")
    at.run()
    assert not at.exception
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_area(key="play_var_word").value == "kept"
    assert at.number_input(key="play_temperature").value == 1.1 and at.checkbox(key="play_on_temperature").value
    assert "[user] Say kept" in _codes(at)  # the last answer is shown again


def test_saved_parameters_that_do_not_fit_the_fields_are_kept_not_a_crash(engine_for_app):
    """A version saved with temperature "hot" / 5 / null or max_tokens 0 (Prompts page, CLI or import)
    used to crash the Playground (float("hot"), StreamlitValueAboveMaxError): they now go to Other parameters."""
    _make(engine_for_app, name="odd", content="Hi {{who}}", model="echo/echo",
          params={"temperature": 5, "max_tokens": 0, "top_p": 0.9})
    _make(engine_for_app, name="text", content="Hi {{who}}", params={"temperature": "hot", "seed": None})
    at = _open()
    assert at.selectbox(key="play_prompt").value == "text"
    assert at.number_input(key="play_temperature").value == 0.7
    assert json.loads(at.text_input(key="play_extra").value) == {"temperature": "hot", "seed": None}
    at.selectbox(key="play_prompt").set_value("odd").run()
    assert not at.exception, [e.value for e in at.exception]
    assert json.loads(at.text_input(key="play_extra").value) == {"temperature": 5, "max_tokens": 0, "top_p": 0.9}
    at.text_area(key="play_var_who").input("Ada").run()
    # nothing is dropped, and nothing is sent silently over the typed fields: the page says what to fix
    errors = " ".join(e.value for e in at.error).replace("\\", "")  # shown escaped
    assert "temperature has its own field" in errors and "max_tokens has its own field" in errors, errors
    assert at.button(key="play_run").disabled and _runs(engine_for_app) == []


def test_other_parameters_are_checked_and_never_override_the_fields(engine_for_app):
    """#15 item 2: {"temperature":"hot","top_p":7} used to be sent while the Temperature field showed 0.20."""
    _make(engine_for_app, name="p", content="Hi {{who}}", model="echo/echo")
    at = _open()
    at.text_area(key="play_var_who").input("Ada").run()
    at.checkbox(key="play_on_temperature").check().run()
    at.number_input(key="play_temperature").set_value(0.2).run()
    at.text_input(key="play_extra").input('{"temperature":"hot","top_p":7}').run()
    errors = " ".join(e.value for e in at.error).replace("\\", "")  # shown escaped
    assert "temperature has its own field" in errors and "top_p: 7 is out of range" in errors, errors
    assert at.button(key="play_run").disabled
    at.text_input(key="play_extra").input('{"top_p":0.5,"my_flag":1}').run()
    assert not at.error and any("Sent as is (not a known parameter): my_flag" in c.value.replace("\\", "")
                                for c in at.caption)
    at.button(key="play_run").click().run()
    [run] = _runs(engine_for_app)
    assert run.params == {"temperature": 0.2, "top_p": 0.5, "my_flag": 1}


def test_switching_version_loads_its_other_parameters(engine_for_app):
    """Other parameters follow the picked version (they used to stick from the previously shown one)."""
    _make(engine_for_app, name="a", content="Hi {{who}}", params={"top_p": 0.5})
    _make(engine_for_app, name="b", content="Hi {{who}}", params={"temperature": 0.3})
    at = _open()
    first = at.selectbox(key="play_prompt").value
    other = "a" if first == "b" else "b"
    at.selectbox(key="play_prompt").set_value(other).run()
    assert not at.exception
    expected = "" if other == "b" else json.dumps({"top_p": 0.5})
    assert at.text_input(key="play_extra").value == expected



def test_a_version_whose_params_are_not_an_object_still_opens(engine_for_app):
    """A version row whose params are not an object (saved before lib validated them) must still open;
    dict("x") used to crash the page."""
    from lib.models import PromptVersion

    _make(engine_for_app, name="strparams", content="Hi {{who}}")
    with db.session_scope(engine_for_app) as s:
        v = prompts.resolve(session=s, ref="strparams")
        s.get(PromptVersion, v.id).params = "x"
    at = _open()
    at.selectbox(key="play_prompt").set_value("strparams").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="play_temperature").value == 0.7
