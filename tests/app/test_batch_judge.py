"""AppTest of pages/batch.py: the job's judge model (form field) lets a rubric name no model."""

from __future__ import annotations

from lib.batch import jobs as batch
from lib.db import session_scope
from tests.app.test_batch_page import _at, _stored_dataset, page  # noqa: F401  (the fixture)


def test_judge_model_field_is_stored_on_the_job(page):  # noqa: F811
    eng = page
    _stored_dataset(eng)
    at = _at()
    at.radio(key="batch_source").set_value("Stored dataset").run()
    at.multiselect(key="batch_versions").set_value(["qa:1"])
    at.multiselect(key="batch_models").set_value(["echo/echo"]).run()
    at.text_area(key="batch_evals").set_value("llm-rubric:Is it polite?").run()
    assert any("judge model" in e.value for e in at.error)  # no judge model yet: the rubric needs one
    at.text_input(key="batch_judge_model").set_value("echo/echo").run()
    assert not at.error, [e.value for e in at.error]
    at.button(key="batch_preflight_btn").click().run()
    at.button(key="batch_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with session_scope(eng) as s:
        job = batch.get_job(session=s, job_id=at.session_state["batch_job_id"])
        assert job.judge_model == "echo/echo"
        assert job.evaluators == [{"type": "judge", "value": "Is it polite?"}]
