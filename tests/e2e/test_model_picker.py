"""A model typed into the Playground's and Compare's pickers (ENDPOINT/MODEL, as their help says) is the
model that gets called.  The pages used to swap a typed model back to the first known one (echo/echo) on
the rerun that followed, so the user's run silently went to another model."""

from __future__ import annotations

from sqlmodel import select

from lib import db, prompts
from lib.models import Prompt
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle

NAME = "aaa-typed-model-probe"  # sorts first, so each page picks it without scrolling a list


def _seed(app) -> None:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Prompt).where(Prompt.name == NAME)).first() is None:
            prompts.create_prompt(actor=ADMIN, session=s, name=NAME, messages=[{"role": "user",
                                  "content": "Hi {{who}}"}])


def _type_model(page, label: str, model: str) -> None:
    box = page.get_by_role("combobox", name=label).first
    box.click()
    box.fill(model)
    page.get_by_role("option", name=f"Add: {model}").click()
    wait_idle(page)


def test_playground_calls_the_typed_model(page, streamlit_app, shot):
    _seed(streamlit_app)
    goto(page, streamlit_app, "playground")
    box = page.get_by_role("combobox", name="Prompt")
    box.click()
    box.fill(NAME)
    page.get_by_role("option", name=NAME).click()
    wait_idle(page)
    who = page.get_by_label("who", exact=True)
    who.fill("Ada")
    who.press("Tab")
    wait_idle(page)
    _type_model(page, "Model (endpoint/model)", "nosuch/typed-model")
    expect(page.get_by_role("combobox", name="Model (endpoint/model)")).to_have_value("nosuch/typed-model")
    page.get_by_role("button", name="Run").click()
    wait_idle(page)
    # the call is refused for the typed endpoint, not answered by echo
    expect(page.get_by_text("unknown endpoint 'nosuch'")).to_be_visible()
    expect(page.get_by_role("combobox", name="Model (endpoint/model)")).to_have_value("nosuch/typed-model")
    assert page.locator("[data-testid=stException]").count() == 0
    shot("typed-model")


def test_compare_keeps_the_typed_model(page, streamlit_app, shot):
    _seed(streamlit_app)
    goto(page, streamlit_app, "compare")
    box = page.get_by_role("combobox", name="Prompt").first  # pick it: other journeys add prompts too
    box.click()
    box.fill(NAME)
    page.get_by_role("option", name=NAME).click()
    wait_idle(page)
    _type_model(page, "Model", "nosuch/typed-model")
    expect(page.get_by_role("combobox", name="Model").first).to_have_value("nosuch/typed-model")
    # another rerun, with a positive sign that it happened (one more column) before the check that the first
    # column still holds the typed model: a check right after a click could pass on the page before the rerun
    models = page.get_by_role("combobox", name="Model")
    n = models.count()
    columns = page.get_by_label("Columns")
    columns.fill(str(n + 1))
    columns.press("Enter")
    wait_idle(page)
    expect(models).to_have_count(n + 1)
    expect(models.first).to_have_value("nosuch/typed-model")
    assert page.locator("[data-testid=stException]").count() == 0
    shot("typed-model")
