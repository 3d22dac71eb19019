"""AppTest of the Prompts page: create, edit, variables, drafts across pages, save, diff, labels, manage."""

from __future__ import annotations

import json

from lib import db, prompts
from lib.prompts import exchange as prompt_io
from tests.actors import ADMIN
from tests.app.conftest import new_app, plain, texts, values

PAGE = "pages/prompts.py"


def _make(engine, name="greet", content="Hello {{ name }}", tags=None, **kw):
    with db.session_scope(engine) as s:
        return prompts.create_prompt(actor=ADMIN, session=s, name=name, messages=[{"role": "user", "content": content}],
                                     tags=tags, **kw)


def _open(name: str | None = None):
    at = new_app(PAGE, {"prompt": name} if name else None)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _msg_areas(at):
    return [t for t in at.text_area if t.key and t.key.startswith("prompts_msg_")]


def _versions(engine, name):
    with db.session_scope(engine) as s:
        return prompts.list_versions(session=s, name=name)


def test_create_prompt_detects_variables_and_saves_v1(engine_for_app):
    at = _open()
    at.button(key="prompts_new").click().run()
    at.text_input(key="prompts_name___new__").input("haiku")
    at.text_input(key="prompts_tags___new__").input("poetry, demo")
    areas = _msg_areas(at)
    assert len(areas) == 2  # system + user to start with
    areas[0].input("You write haiku.")
    areas[1].input("Write about {{ topic }} in {{ style }}.")
    at.run()
    assert "`topic`, `style`" in texts(at)
    at.text_input(key="prompts_commit___new__").input("first cut")
    at.button(key="prompts_save___new__").click().run()
    assert not at.exception
    assert "Saved haiku v1." in values(at.success)
    v = _versions(engine_for_app, "haiku")
    assert [x.number for x in v] == [1] and v[0].commit_message == "first cut"
    assert v[0].messages[1]["content"] == "Write about {{ topic }} in {{ style }}."
    assert v[0].variables == ["topic", "style"] and v[0].author == "local:tester"
    assert at.query_params["prompt"] == ["haiku"] or at.query_params["prompt"] == "haiku"
    assert any(b.key.startswith("prompts_pick_") and plain(b.label) == "haiku" for b in at.button)


def test_malformed_template_and_bad_input_show_errors_not_tracebacks(engine_for_app):
    at = _open()
    at.button(key="prompts_new").click().run()
    _msg_areas(at)[1].input("Hi {{ not valid! }}")
    at.text_area(key="prompts_params___new__").input("{temperature: 1}")
    at.run()
    errors = " ".join(values(at.error))
    assert "malformed placeholder" in errors and "not valid JSON" in errors
    at.text_area(key="prompts_params___new__").input('{"temperature": 0.5}')
    at.text_input(key="prompts_name___new__").input("bad name with spaces")
    _msg_areas(at)[1].input("Hi {{ who }}")
    at.button(key="prompts_save___new__").click().run()
    assert not at.exception
    assert any("invalid prompt name" in e for e in values(at.error))
    with db.session_scope(engine_for_app) as s:
        assert prompts.list_prompts(session=s)[1] == 0


def test_edit_save_v2_diff_promote_and_rollback(engine_for_app):
    _make(engine_for_app)
    at = _open("greet")
    assert "greet" in texts(at)
    _msg_areas(at)[0].input("Hello {{ name }}, welcome to {{ place }}!")
    at.text_input(key="prompts_commit_greet").input("add place")
    at.button(key="prompts_save_greet").click().run()
    assert "Saved greet v2." in values(at.success)
    assert [v.number for v in _versions(engine_for_app, "greet")] == [1, 2]
    # the diff tab compares v1 -> v2 by default
    diff = [c for c in at.code if c.language == "diff"]
    assert diff and "-Hello {{ name }}" in diff[0].value
    assert "+Hello {{ name }}, welcome to {{ place }}!" in diff[0].value
    assert "v1 -> v2: 1 message changed" in texts(at)
    # timeline lists both versions newest first with the commit messages
    table = next(d.value for d in at.dataframe if "version" in d.value.columns)
    assert list(table["version"]) == [2, 1] and list(table["message"]) == ["add place", "first version"]
    # promote v2 to production, then v1, then roll back to v2
    at.selectbox(key="prompts_lbl_v_greet_2").select(2)
    at.selectbox(key="prompts_lbl_greet").select("production")
    at.button(key="prompts_promote_greet").click().run()
    # production is protected: the move waits for the confirmation dialog (which shows the change)
    with db.session_scope(engine_for_app) as s:
        pid = prompts.get_prompt(session=s, name="greet").id
        assert "production" not in prompts.labels_of(session=s, prompt_id=pid)
    assert "production is not set yet; it will point at v2." in [m.value for m in at.markdown]
    at.button(key="prompts_protected_confirm").click().run()
    assert "production now points at greet v2." in values(at.success)
    at.selectbox(key="prompts_lbl_v_greet_2").select(1)
    at.button(key="prompts_promote_greet").click().run()
    assert any("+Hello {{ name }}" in c.value or "-Hello {{ name }}, welcome" in c.value for c in at.code)
    at.button(key="prompts_protected_confirm").click().run()
    at.selectbox(key="prompts_rb_greet").select("production")
    at.button(key="prompts_rollback_greet").click().run()
    assert "Rolled production back to v2." in values(at.success)
    with db.session_scope(engine_for_app) as s:
        assert prompts.resolve(session=s, ref="greet@production").number == 2
        assert len(prompts.label_history(session=s, name="greet")) == 3
    # a custom label
    at.selectbox(key="prompts_lbl_greet").select("custom...").run()
    at.text_input(key="prompts_lbl_custom_greet").input("canary")
    at.button(key="prompts_promote_greet").click().run()
    with db.session_scope(engine_for_app) as s:
        assert prompts.labels_of(session=s, prompt_id=prompts.get_prompt(session=s, name="greet").id) == \
            {"canary": 1, "production": 2}


def test_identical_save_makes_no_new_version(engine_for_app):
    _make(engine_for_app)
    at = _open("greet")
    at.button(key="prompts_save_greet").click().run()
    assert any("No changes" in i for i in values(at.info))
    assert len(_versions(engine_for_app, "greet")) == 1


def test_unsaved_draft_survives_switching_pages(engine_for_app):
    _make(engine_for_app)
    at = _open("greet")
    _msg_areas(at)[0].input("Draft text {{ name }} not saved yet")
    at.text_input(key="prompts_model_greet").input("echo/echo")
    at.run()
    assert any("Unsaved changes" in w for w in values(at.warning))
    at.switch_page("pages/settings.py")
    at.run()
    assert not at.exception and not _msg_areas(at)
    at.switch_page(PAGE)
    at.run()
    assert [t.value for t in _msg_areas(at)] == ["Draft text {{ name }} not saved yet"]
    assert at.text_input(key="prompts_model_greet").value == "echo/echo"
    assert any("Unsaved changes" in w for w in values(at.warning))
    assert len(_versions(engine_for_app, "greet")) == 1
    at.button(key="prompts_discard_greet").click().run()
    assert [t.value for t in _msg_areas(at)] == ["Hello {{ name }}"]


def test_add_reorder_and_remove_messages(engine_for_app):
    _make(engine_for_app)
    at = _open("greet")
    at.button(key="prompts_add_system_greet").click().run()
    _msg_areas(at)[1].input("Be brief.")
    roles = [s for s in at.selectbox if s.key.startswith("prompts_role_")]
    assert [r.value for r in roles] == ["user", "system"]
    up = next(b for b in at.button if b.key == f"prompts_up_{roles[1].key.removeprefix('prompts_role_')}")
    up.click().run()
    assert [t.value for t in _msg_areas(at)] == ["Be brief.", "Hello {{ name }}"]
    assert [s.value for s in at.selectbox if s.key.startswith("prompts_role_")] == ["system", "user"]
    at.button(key="prompts_add_assistant_greet").click().run()
    third = [s for s in at.selectbox if s.key.startswith("prompts_role_")][2].key.removeprefix("prompts_role_")
    at.button(key=f"prompts_rm_{third}").click().run()
    assert len(_msg_areas(at)) == 2
    at.button(key="prompts_save_greet").click().run()
    assert _versions(engine_for_app, "greet")[-1].messages == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello {{ name }}"}]


def test_list_search_tag_filter_and_pagination(engine_for_app):
    with db.session_scope(engine_for_app) as s:
        for i in range(25):
            prompts.create_prompt(actor=ADMIN, session=s, name=f"p{i:02d}", messages=[{"role": "user",
                                  "content": f"x{i}"}],
                                  tags=["even"] if i % 2 == 0 else ["odd"], description="alpha" if i == 7 else "")
    at = _open()

    def picks():
        return [plain(b.label) for b in at.button if b.key.startswith("prompts_pick_")]

    assert len(picks()) == 20 and "Page 1 of 2 · 25 prompts" in texts(at)
    at.button(key="prompts_next").click().run()
    assert len(picks()) == 5
    at.text_input(key="prompts_q").input("alpha").run()
    assert picks() == ["p07"] and "Page 1 of 1 · 1 prompts" in texts(at)
    at.text_input(key="prompts_q").input("").run()
    at.selectbox(key="prompts_tag").select("odd").run()
    assert len(picks()) == 12 and all(int(n[1:]) % 2 for n in picks())
    next(b for b in at.button if b.label == "p03").click().run()
    assert any(t.key == "prompts_msg_" + t.key.removeprefix("prompts_msg_") and t.value == "x3"
               for t in _msg_areas(at))


def test_duplicate_archive_restore_import_export(engine_for_app):
    _make(engine_for_app, tags=["t1"], description="desc")
    at = _open("greet")
    at.text_input(key="prompts_dup_greet").input("greet-copy")
    at.button(key="prompts_dup_btn_greet").click().run()
    assert "Copied greet to greet-copy." in values(at.success)
    assert at.session_state["prompts_selected"] == "greet-copy"
    at.button(key="prompts_archive_greet-copy").click().run()
    with db.session_scope(engine_for_app) as s:
        assert prompts.get_prompt(session=s, name="greet-copy").archived
        names = [p.name for p in prompts.list_prompts(session=s)[0]]
        assert names == ["greet"]
    at.toggle(key="prompts_archived").set_value(True).run()
    assert [plain(b.label) for b in at.button if b.key.startswith("prompts_pick_")] == ["greet-copy"]
    at.button(key="prompts_restore_greet-copy").click().run()
    with db.session_scope(engine_for_app) as s:
        assert not prompts.get_prompt(session=s, name="greet-copy").archived
        exported = prompt_io.dumps(prompt_io.export_prompt(session=s, name="greet"))
    at.text_area(key="prompts_import_text").input(exported)
    at.text_input(key="prompts_import_name").input("greet-imported")
    at.button(key="prompts_import").click().run()
    assert "Imported greet-imported." in values(at.success)
    with db.session_scope(engine_for_app) as s:
        assert prompts.resolve(session=s, ref="greet-imported").messages == [
            {"role": "user", "content": "Hello {{ name }}"}]
    at.get("file_uploader")[0].upload("greet.prompt.json", exported.encode(), "application/json")
    at.text_input(key="prompts_import_name").input("greet-uploaded")
    at.button(key="prompts_import").click().run()
    assert "Imported greet-uploaded." in values(at.success)
    at.get("file_uploader")[0].set_value(None)
    at.text_area(key="prompts_import_text").input("{not json")
    at.button(key="prompts_import").click().run()
    assert any("Import failed: not valid JSON" in e for e in values(at.error)) and not at.exception
    dl = [e for e in at.get("download_button")]
    assert dl, "an Export JSON download button is shown"
    assert json.loads(exported)["prompt"]["name"] == "greet"


def test_untrusted_prompt_text_is_never_markdown(engine_for_app):
    evil = "<img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(1))"
    _make(engine_for_app, name="evil", content=evil + " {{ v }}", description=evil)
    at = _open("evil")
    assert not at.exception
    assert _msg_areas(at)[0].value == evil + " {{ v }}"
    assert evil in [t.value for t in at.text]  # description as plain text
    for md in at.markdown:
        assert "<img" not in md.value and "javascript:" not in md.value.replace("\\", "")


def test_import_of_a_wrongly_shaped_export_is_a_message_not_a_traceback(engine_for_app):
    """prompt_io.import_prompt raised AttributeError / a database error on exports of the right format but
    the wrong shape; the Import button showed Streamlit's exception box instead of saying what is wrong."""
    _make(engine_for_app)
    at = _open("greet")
    with db.session_scope(engine_for_app) as s:
        good = json.loads(prompt_io.dumps(prompt_io.export_prompt(session=s, name="greet")))
    bad_versions = dict(good, versions="x")
    bad_description = dict(good, prompt=dict(good["prompt"], description={"a": 1}))
    for i, bad in enumerate((bad_versions, bad_description, dict(good, labels=["x"]))):
        at.text_area(key="prompts_import_text").input(json.dumps(bad))
        at.text_input(key="prompts_import_name").input(f"broken-{i}")
        at.button(key="prompts_import").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(e.startswith("Import failed") for e in values(at.error)), values(at.error)
    assert at.session_state["prompts_selected"] == "greet"  # the open prompt and its draft are untouched
    with db.session_scope(engine_for_app) as s:
        assert [p.name for p in prompts.list_prompts(session=s)[0]] == ["greet"]


def test_archiving_the_open_prompt_keeps_its_unsaved_draft(engine_for_app):
    """Archive used to drop the open prompt's draft without a word: restoring it showed the saved text again
    and the edits typed before were gone."""
    _make(engine_for_app)
    at = _open("greet")
    _msg_areas(at)[0].input("Hello {{ name }}, edited but not saved").run()
    at.button(key="prompts_archive_greet").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _msg_areas(at)[0].value == "Hello {{ name }}, edited but not saved"
    assert any("unsaved" in m for m in values(at.success) + values(at.info))
    at.button(key="prompts_restore_greet").click().run()
    assert _msg_areas(at)[0].value == "Hello {{ name }}, edited but not saved"
    at.button(key="prompts_save_greet").click().run()
    with db.session_scope(engine_for_app) as s:
        saved = prompts.resolve(session=s, ref="greet").messages[0]["content"]
    assert saved == "Hello {{ name }}, edited but not saved"


def test_a_version_with_tool_messages_and_a_placeholder_opens_and_tools_json_is_checked(engine_for_app):
    call = {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
    with db.session_scope(engine_for_app) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="agent", messages=[
            {"role": "placeholder", "name": "history"}, {"role": "user", "content": "Find {{q}}"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "found"}])
    at = _open("agent")
    assert "Tool call c1: look({})" in texts(at) and "Answers tool call c1" in texts(at)
    assert "`history`, `q`" in texts(at)
    at.text_area(key="prompts_params_agent").input(
        '{\n  "tools": [\n    {"type": "function",\n     "function": {"name": "look",\n'
        '       "parameters": {"type": "objekt"}}}\n  ]\n}')
    at.run()
    assert any("tools[0].function.parameters.type (line 5)" in e.replace("\\", "") for e in values(at.error)), \
        values(at.error)
    at.button(key="prompts_save_agent").click().run()
    assert not at.exception
    assert [v.number for v in _versions(engine_for_app, "agent")] == [1]  # nothing saved
    at.text_area(key="prompts_params_agent").input('{"tools": [{"type": "function", "function": {"name": "look", '
                                                   '"parameters": {"type": "object"}}}]}')
    at.button(key="prompts_save_agent").click().run()
    v2 = _versions(engine_for_app, "agent")[-1]
    assert v2.number == 2 and v2.params["tools"][0]["function"]["name"] == "look"
    assert v2.messages[0] == {"role": "placeholder", "name": "history"} and v2.messages[3]["tool_call_id"] == "c1"


def test_view_restore_open_word_diff_and_rollback_reasons(engine_for_app):
    """#15 item 14: any version read-only, restored as the draft or opened in the Playground; a word diff;
    Roll back disabled with the reason when there is nothing earlier; rollbacks marked in the history."""
    _make(engine_for_app, content="Hello {{ name }}")
    with db.session_scope(engine_for_app) as s:
        prompts.save_version(actor=ADMIN, session=s, name="greet", commit_message="warmer",
                             messages=[{"role": "user", "content": "Hello there {{ name }}, welcome!"}])
    at = _open("greet")
    # view v1 read-only: its text is shown as code, not as an editable field
    at.selectbox(key="prompts_view_greet").select(1).run()
    assert not at.exception
    assert "v1 · read-only" in plain(texts(at))
    assert any(c.value == "Hello {{ name }}" for c in at.code)
    # restore it as the draft: the editor now holds v1's text (nothing saved yet) and says so
    at.button(key="prompts_restore_v_greet").click().run()
    assert "v1 is now your draft: save it to make it the newest version." in values(at.info)
    assert [a.value for a in _msg_areas(at)] == ["Hello {{ name }}"]
    assert at.session_state["prompts_tab"] == "Editor"
    assert len(_versions(engine_for_app, "greet")) == 2
    at.button(key="prompts_save_greet").click().run()
    v = _versions(engine_for_app, "greet")
    assert [x.number for x in v] == [1, 2, 3] and v[-1].messages[0]["content"] == "Hello {{ name }}"
    assert v[-1].commit_message == "restore v1"
    # the word diff marks only the words that changed
    at.selectbox(key="prompts_diff_a_greet_3").select(2)
    at.selectbox(key="prompts_diff_b_greet_3").select(3)
    at.segmented_control(key="prompts_diff_by").set_value("words").run()
    words = [c.value for c in at.code if "[-" in c.value]
    assert words and "Hello [-there -]{{ name }}[-, welcome!-]" in words[0], words
    # first promote: nothing earlier, so Roll back is disabled and says why
    at.selectbox(key="prompts_lbl_greet").select("staging")
    at.button(key="prompts_promote_greet").click().run()
    rb = at.button(key="prompts_rollback_greet")
    assert rb.disabled and "staging has no earlier version: it has only been set once." in texts(at)
    at.selectbox(key="prompts_lbl_v_greet_3").select(1)
    at.button(key="prompts_promote_greet").click().run()
    rb = at.button(key="prompts_rollback_greet")
    assert not rb.disabled and plain(rb.label) == "Roll back to v3"
    rb.click().run()
    assert "Rolled staging back to v3." in values(at.success)
    hist = next(d.value for d in at.dataframe if "move" in d.value.columns)
    assert list(hist["move"]) == ["rollback ↩", "promote", "promote"], hist
    # open v2 in the Playground: it starts on that very version
    at.selectbox(key="prompts_view_greet").select(2).run()
    at.button(key="prompts_play_v_greet").click().run()
    assert not at.exception
    assert at.session_state["play_prompt"] == "greet" and at.session_state["play_ref"] == "greet:2"
    assert "Playground" in [t.value for t in at.title]


def test_a_select_or_a_promote_keeps_the_labels_tab(engine_for_app):
    """#15 item 7: the tabs are keyed (state-backed): a rerun from the Labels tab does not go back to Editor."""
    _make(engine_for_app)
    at = _open("greet")
    at.session_state["prompts_tab"] = "Labels"  # the person picked the Labels tab
    at.run()
    at.selectbox(key="prompts_lbl_greet").select("staging").run()
    assert at.session_state["prompts_tab"] == "Labels"
    at.button(key="prompts_promote_greet").click().run()
    assert "staging now points at greet v1." in values(at.success)
    assert at.session_state["prompts_tab"] == "Labels"
    tabs = at.tabs
    assert [t.label for t in tabs] == ["Editor", "Versions", "Diff", "Labels", "Manage"]
