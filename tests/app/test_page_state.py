"""#15 item 3: a page's working state is kept per person in the database, so a new browser session
(a reload) returns what was on screen."""

from __future__ import annotations

from lib import db, prompts
from lib.models import PageState
from tests.actors import ADMIN
from tests.app.conftest import new_app


def _prompt(engine) -> None:
    with db.session_scope(engine) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="kept", model="echo/echo",
                              messages=[{"role": "user", "content": "Write about {{subject}}."}])


def test_playground_values_come_back_in_a_new_session(engine_for_app):
    _prompt(engine_for_app)
    at = new_app("pages/playground.py")
    at.text_area(key="play_var_subject").input("tides, unsaved").run()
    at.checkbox(key="play_on_temperature").check().run()
    at.number_input(key="play_temperature").set_value(0.3).run()
    at.run()
    with db.session_scope(engine_for_app) as s:
        [row] = s.query(PageState).filter(PageState.page == "play").all()
        assert row.state["play_var_subject"] == "tides, unsaved"
    again = new_app("pages/playground.py")  # a reload: a new session on the same database
    assert not again.exception
    assert again.text_area(key="play_var_subject").value == "tides, unsaved"
    assert again.checkbox(key="play_on_temperature").value is True
    assert again.number_input(key="play_temperature").value == 0.3


def test_compare_set_up_comes_back_in_a_new_session(engine_for_app):
    _prompt(engine_for_app)
    at = new_app("pages/compare.py")
    at.number_input(key="cmp_n").set_value(2).run()
    at.text_area(key="cmp_var_subject").input("volcanoes").run()
    again = new_app("pages/compare.py")
    assert again.number_input(key="cmp_n").value == 2
    assert again.text_area(key="cmp_var_subject").value == "volcanoes"
