"""AppTest of the Settings page: endpoints (add, edit, test, delete), key presence, prices, database, examples."""

from __future__ import annotations

from lib import db
from lib.client import endpoints
from lib.ui import md_escape
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts, values
from tests.fakeserver import fake_server, free_port  # noqa: F401  (fixture)

PAGE = "pages/settings.py"
SECRET = "sk-test-NEVER-SHOWN-4242"


def _open():
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _all_visible(at) -> str:
    """Texts, dataframes and widget values: everything a user could read."""
    parts = [texts(at)]
    parts += [d.value.to_csv() for d in at.dataframe]
    parts += [str(w.value) for w in list(at.text_input) + list(at.text_area)]
    return "\n".join(parts)


def _endpoint(engine, name):
    with db.session_scope(engine) as s:
        return endpoints.get_endpoint(session=s, name=name)


def test_add_endpoint_shows_key_presence_never_the_key(engine_for_app, monkeypatch):
    monkeypatch.delenv("WB_TEST_KEY", raising=False)
    at = _open()
    at.text_input(key="settings_new_name").input("local")
    at.selectbox(key="settings_new_kind").select("openai")
    at.text_input(key="settings_new_url").input(f"http://127.0.0.1:{free_port()}/v1")
    at.text_input(key="settings_new_key").input("WB_TEST_KEY")
    at.text_input(key="settings_new_models").input("m1, m2")
    at.button(key="settings_add").click().run()
    assert not at.exception
    assert "Added endpoint local." in values(at.success)
    row = _endpoint(engine_for_app, "local")
    assert row.kind == "openai" and row.api_key_env == "WB_TEST_KEY" and row.models == ["m1", "m2"]
    table = at.dataframe[0].value
    assert table.loc[table["name"] == "local", "key"].item() == "WB_TEST_KEY: MISSING"
    monkeypatch.setenv("WB_TEST_KEY", SECRET)
    at.run()
    table = at.dataframe[0].value
    assert table.loc[table["name"] == "local", "key"].item() == "WB_TEST_KEY: present"
    assert SECRET not in _all_visible(at)
    # the sidebar marks it healthy (key set) and never shows the key either
    side = " ".join(m.value for m in at.sidebar.markdown)
    assert "**local** key set" in side and SECRET not in side


def test_pasting_a_key_as_its_name_is_refused(engine_for_app):
    at = _open()
    at.text_input(key="settings_new_name").input("oops")
    at.selectbox(key="settings_new_kind").select("openai")
    at.text_input(key="settings_new_key").input("sk-live-abc/def")
    at.button(key="settings_add").click().run()
    assert not at.exception
    assert any("NAME of an environment variable" in e for e in values(at.error))
    with db.session_scope(engine_for_app) as s:
        assert [e.name for e in endpoints.list_endpoints(session=s)] == ["echo"]


def test_a_non_key_variable_is_refused_from_the_page_too(engine_for_app, fake_server, monkeypatch):  # noqa: F811
    # #11 item 1: "the same works from the Settings page": AWS_SECRET_ACCESS_KEY as an endpoint's key variable
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "X-aws-server-secret")
    at = _open()
    at.text_input(key="settings_new_name").input("leak")
    at.selectbox(key="settings_new_kind").select("openai")
    at.text_input(key="settings_new_url").input(fake_server.url + "/v1")
    at.text_input(key="settings_new_key").input("AWS_SECRET_ACCESS_KEY")
    at.button(key="settings_add").click().run()
    assert not at.exception
    errors = values(at.error)
    assert any("AWS_SECRET_ACCESS_KEY" in e for e in errors) and all("\n" not in e for e in errors), errors
    assert "X-aws-server-secret" not in _all_visible(at)
    with db.session_scope(engine_for_app) as s:
        assert [e.name for e in endpoints.list_endpoints(session=s)] == ["echo"]
    assert fake_server.count() == 0  # nothing was sent anywhere


def test_edit_and_delete_an_endpoint(engine_for_app):
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="loc", kind="openai", base_url="http://127.0.0.1:9/v1",
                               api_key_env="SOME_KEY", models=["a"])
    at = _open()
    at.text_input(key="settings_ep_loc_models").input("a, b, c")
    at.number_input(key="settings_ep_loc_rpm").set_value(120)
    at.button(key="settings_ep_loc_save").click().run()
    assert "Saved endpoint loc." in values(at.success)
    row = _endpoint(engine_for_app, "loc")
    assert row.models == ["a", "b", "c"] and row.rpm == 120
    # a new host without naming the key again is refused (a key never goes to a new host by accident)
    at.text_input(key="settings_ep_loc_url").input("https://elsewhere.example/v1")
    at.button(key="settings_ep_loc_save").click().run()
    assert any("name the key again" in e for e in values(at.error))
    assert _endpoint(engine_for_app, "loc").base_url == "http://127.0.0.1:9/v1"
    at.checkbox(key="settings_ep_loc_rekey").check()
    at.text_input(key="settings_ep_loc_url").input("http://127.0.0.1:10/v1")
    at.button(key="settings_ep_loc_save").click().run()
    assert _endpoint(engine_for_app, "loc").base_url == "http://127.0.0.1:10/v1"
    at.button(key="settings_ep_loc_delete").click().run()
    assert any("I am sure" in w for w in values(at.warning))
    at.checkbox(key="settings_ep_loc_confirm").check()
    at.button(key="settings_ep_loc_delete").click().run()
    assert "Deleted endpoint loc." in values(at.success)
    with db.session_scope(engine_for_app) as s:
        assert [e.name for e in endpoints.list_endpoints(session=s)] == ["echo"]


def test_test_button_on_echo_fake_server_and_a_dead_port(engine_for_app, fake_server):  # noqa: F811
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url + "/v1")
        endpoints.add_endpoint(actor=ADMIN, session=s, name="dead", kind="openai",
                               base_url=f"http://127.0.0.1:{free_port()}/v1",
                               timeout_s=3.0)
    at = _open()
    at.button(key="settings_ep_echo_test").click().run()
    assert any(s.startswith("Reachable at") and "echo" in s for s in values(at.success))
    at.button(key="settings_ep_fake_test").click().run()
    ok = [s for s in values(at.success) if s.startswith("Reachable at")]
    assert len(ok) == 2 and fake_server.count("/v1/models") >= 1
    at.button(key="settings_ep_dead_test").click().run()
    assert not at.exception
    assert any(e.startswith("Test failed at") for e in values(at.error))
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["echo", "last test"].startswith("ok") and table.loc["dead", "last test"].startswith("failed")

    # #15 item 11: the results are kept in the database: a reload (a new session) shows them with their time
    dead = _endpoint(engine_for_app, "dead")
    assert dead.last_check_ok is False and dead.last_check_kind == "unreachable" and dead.last_check_at
    assert "cannot connect" in dead.last_check_message
    again = _open()
    table = again.dataframe[0].value.set_index("name")
    assert table.loc["dead", "last test"] == "failed (unreachable) " + dead.last_check_at.strftime("%Y-%m-%d %H:%M UTC")
    assert table.loc["fake", "last test"].startswith("ok 20")
    assert any(e.startswith("Test failed at") and "unreachable: cannot connect" in e
               for e in values(again.error))
    side = "\n".join(m.value for m in again.sidebar.markdown)
    line = next(x.strip() for x in side.splitlines() if "**dead**" in x)
    assert line.startswith(":material/error:") and md_escape("failed (unreachable)") in line, line


def test_price_override_add_and_remove(engine_for_app):
    from lib.client import pricing

    at = _open()
    at.text_input(key="settings_price_model").input("my-model")
    at.text_input(key="settings_price_source").input("vendor page 2026-11")
    at.number_input(key="settings_price_in").set_value(1.5)
    at.number_input(key="settings_price_out").set_value(6.0)
    at.button(key="settings_price_save").click().run()
    assert "Saved the price of my-model." in values(at.success)
    with db.session_scope(engine_for_app) as s:
        rows = pricing.list_prices(session=s)
    assert [(r["model"], r["input_per_mtok"], r["output_per_mtok"], r["source"]) for r in rows] == \
        [("my-model", 1.5, 6.0, "vendor page 2026-11")]
    assert any("my-model" in d.value.to_csv() for d in at.dataframe)
    at.text_input(key="settings_price_q").input("gpt-4o").run()
    assert any("bundled prices match" in c for c in values(at.caption))
    at.selectbox(key="settings_price_delete").select("(any) / my-model")
    at.button(key="settings_price_remove").click().run()
    with db.session_scope(engine_for_app) as s:
        assert pricing.list_prices(session=s) == []


def test_database_info_and_reset_examples(examples, engine_for_app):
    from lib.prompts import registry as prompts

    at = _open()
    assert at.metric[0].value == "sqlite"
    assert any(str(engine_for_app.url.database) in c.value for c in at.code)
    with db.session_scope(engine_for_app) as s:
        prompts.save_version(actor=ADMIN, session=s, name="support-reply", messages=[{"role": "user",
                             "content": "changed"}])
    at.checkbox(key="settings_reset_confirm").check().run()
    at.button(key="settings_reset").click().run()
    assert not at.exception
    assert any(s.startswith("Restored") for s in values(at.success))
    with db.session_scope(engine_for_app) as s:
        assert prompts.resolve(session=s, ref="support-reply").messages != [{"role": "user", "content": "changed"}]


def test_saving_an_endpoint_keeps_limits_beyond_the_form_defaults(engine_for_app):
    """An endpoint made by the CLI with --max-concurrency 1000 --timeout 7200 (or 0.5 s) was drawn with the
    fields clamped to 1 / 1.0 (outside the fields' bounds), so pressing Save on it, e.g. to edit its models,
    silently wrote concurrency 1 and a 1 s timeout over the saved values."""
    with db.session_scope(engine_for_app) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="big", kind="openai", base_url="http://127.0.0.1:1/v1",
                               max_concurrency=1000, timeout_s=7200.0)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="quick", kind="openai", base_url="http://127.0.0.1:1/v1",
                               timeout_s=0.5)
    at = _open()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="settings_ep_big_conc").value == 1000
    assert at.number_input(key="settings_ep_big_timeout").value == 7200.0
    assert at.number_input(key="settings_ep_quick_timeout").value == 0.5
    at.text_input(key="settings_ep_big_models").input("m1, m2")
    at.button(key="settings_ep_big_save").click().run()
    at.button(key="settings_ep_quick_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    big, quick = _endpoint(engine_for_app, "big"), _endpoint(engine_for_app, "quick")
    assert big.models == ["m1", "m2"]
    assert big.max_concurrency == 1000 and big.timeout_s == 7200.0
    assert quick.timeout_s == 0.5


def test_add_an_endpoint_stays_open_after_an_error_and_the_next_edit(engine_for_app):
    """#15 item 7: the 'Add an endpoint' panel keeps its state (a keyed expander) across the error's rerun."""
    at = _open()
    panel = next(x for x in at.expander if x.label == "Add an endpoint")
    assert panel.proto.expanded is False
    at.session_state["settings_add_open"] = True  # the person opened it
    at.text_input(key="settings_new_name").input("oops")
    at.text_input(key="settings_new_key").input("sk-live-abc/def")
    at.button(key="settings_add").click().run()
    assert any("NAME of an environment variable" in e for e in values(at.error))
    assert next(x for x in at.expander if x.label == "Add an endpoint").proto.expanded is True
    at.text_input(key="settings_new_key").input("OOPS_KEY").run()
    assert next(x for x in at.expander if x.label == "Add an endpoint").proto.expanded is True
    assert at.text_input(key="settings_new_name").value == "oops"
