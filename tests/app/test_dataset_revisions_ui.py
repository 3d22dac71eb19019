"""AppTest: the Batch page's dataset editor and delete, and History's "Add to dataset"."""

from __future__ import annotations

from sqlmodel import select

from lib import db, prompts
from lib.batch import jobs as batch
from lib.datasets import get_dataset, get_rows, import_dataset, revisions
from lib.models import Run, utcnow
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts
from tests.app.test_batch_page import _at, _stored_dataset, page  # noqa: F401  (the fixture)


def test_editor_shows_the_rows_saves_nothing_unchanged_and_deletes(page):  # noqa: F811
    eng = page
    _stored_dataset(eng)
    at = _at()
    at.radio(key="batch_source").set_value("Stored dataset").run()
    assert "Edit qa (revision 1 of 1" in " ".join(e.label for e in at.expander)
    at.button(key="ds_save_1").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "no change to save" in texts(at)
    assert at.button(key="ds_delete_1").disabled
    at.checkbox(key="ds_del_sure_1").check().run()
    at.button(key="ds_delete_1").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with db.session_scope(eng) as s:
        assert revisions(session=s, name="qa") == []


def test_a_dataset_a_job_used_is_not_deleted(page):  # noqa: F811
    eng = page
    ds_id = _stored_dataset(eng)
    with db.session_scope(eng) as s:
        v = prompts.resolve(session=s, ref="qa")
        batch.submit(actor=ADMIN, session=s, dataset_id=ds_id, version_ids=[v.id], models=["echo/echo"])
    at = _at()
    at.radio(key="batch_source").set_value("Stored dataset").run()
    at.checkbox(key="ds_del_sure_1").check().run()
    at.button(key="ds_delete_1").click().run()
    assert any("is used by batch job" in e.value for e in at.error), [e.value for e in at.error]


def test_history_adds_a_run_to_a_dataset_with_its_answer(engine_for_app):
    with db.session_scope(engine_for_app) as s:
        import_dataset(actor=ADMIN, session=s, data=b"who\nann\n", filename="people.csv")
        v = prompts.create_prompt(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                                  "content": "Hi {{who}}"}])
        s.add(Run(source="playground", prompt_id=v.prompt_id, version_id=v.id, prompt_name="greet",
                  version_number=1, endpoint="echo", model="echo", variables={"who": "bob"},
                  messages=[{"role": "user", "content": "Hi bob"}], output="[user] Hi bob", status="ok",
                  created_at=utcnow()))
        s.commit()
    at = new_app("pages/history.py", {"run": "1"})
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="hist_add_1_add").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "added to people: revision 2, 2 rows" in texts(at)
    with db.session_scope(engine_for_app) as s:
        ds = get_dataset(session=s, ref="people")
        rows = get_rows(session=s, dataset_id=ds.id)
        assert [r.data for r in rows] == [{"who": "ann"}, {"who": "bob"}]
        assert rows[1].asserts == [{"type": "equals", "value": "[user] Hi bob"}]


def test_compare_column_adds_its_answer_to_a_dataset(engine_for_app):
    with db.session_scope(engine_for_app) as s:
        import_dataset(actor=ADMIN, session=s, data=b"who\nann\n", filename="people.csv")
        prompts.create_prompt(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                              "content": "Hi {{who}}"}],
                              model="echo/echo")
        s.commit()
    at = new_app("pages/compare.py")
    at.selectbox(key="cmp_ref_1").set_value("greet:1")
    at.text_area(key="cmp_var_who").input("Ada")
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with db.session_scope(engine_for_app) as s:
        first = s.exec(select(Run).order_by(Run.id)).first()
    at.checkbox(key=f"cmp_add_{first.id}_use").uncheck()
    at.button(key=f"cmp_add_{first.id}_add").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with db.session_scope(engine_for_app) as s:
        rows = get_rows(session=s, dataset_id=get_dataset(session=s, ref="people").id)
        assert [r.data for r in rows] == [{"who": "ann"}, {"who": "Ada"}] and rows[1].asserts == []
