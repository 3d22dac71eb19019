"""Journey (#15 item 3): nothing typed is lost.  Playground values (also ones loaded from a past run), the
Compare set-up and the Batch set-up come back after a reload and after visiting another page."""

from __future__ import annotations

from sqlmodel import select

from lib import datasets, db, prompts
from lib.models import Dataset, Prompt
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle

NAME = "kept-journey"


def _arrange(app) -> None:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Prompt).where(Prompt.name == NAME)).first() is None:
            prompts.create_prompt(actor=ADMIN, session=s, name=NAME, model="echo/echo",
                                  messages=[{"role": "user", "content": "Write about {{subject}}."}])
        if s.exec(select(Dataset).where(Dataset.name == "kept-rows")).first() is None:
            datasets.import_dataset(actor=ADMIN, session=s, data=b"subject\nrain\nsnow\n", filename="kept-rows.csv")
        s.commit()


def _type(page, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Tab")
    wait_idle(page)


def _away_and_back(page, app, path: str) -> None:
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="History").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=path).click()
    wait_idle(page)


def _reload(page) -> None:
    """A browser reload: a new Streamlit session (nothing of the old one is left in memory)."""
    page.reload()
    page.locator("[data-testid=stApp]").wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-connection-state') === 'CONNECTED'", timeout=60_000)
    page.locator("[data-testid=stMain] h1").first.wait_for(timeout=60_000)
    wait_idle(page, 60_000)


def _pick_multi(page, label: str, option: str) -> None:
    box = page.locator("[data-testid=stMultiSelect]").filter(has_text=label)
    box.click()
    box.locator("input").fill(option)  # the list is virtualised: with other journeys' prompts it may be off-screen
    page.get_by_role("option", name=option, exact=True).click()  # exact: other journeys add similar names
    page.keyboard.press("Escape")
    wait_idle(page)


def test_playground_values_survive_reload_and_page_switch(page, streamlit_app, shot):
    _arrange(streamlit_app)
    goto(page, streamlit_app, "playground")
    page.get_by_label("Prompt", exact=True).click()
    page.get_by_role("option", name=NAME).click()
    wait_idle(page)
    _type(page, "subject", "tides, unsaved")
    page.get_by_text("Send temperature").click()
    wait_idle(page)
    _type(page, "Temperature", "0.30")
    _reload(page)
    expect(page.get_by_label("subject", exact=True)).to_have_value("tides, unsaved", timeout=30_000)
    expect(page.get_by_label("Temperature", exact=True)).to_have_value("0.30")
    shot("after-reload")

    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("finish: stop")).to_be_visible(timeout=20_000)
    _type(page, "subject", "something else")
    page.get_by_text("Load variables from a past run").click()  # the run's values fill the form
    wait_idle(page)
    page.get_by_role("button", name="Load its variables").click()
    wait_idle(page)
    expect(page.get_by_label("subject", exact=True)).to_have_value("tides, unsaved")
    _away_and_back(page, streamlit_app, "Playground")
    expect(page.get_by_label("subject", exact=True)).to_have_value("tides, unsaved")
    expect(page.get_by_label("Temperature", exact=True)).to_have_value("0.30")
    shot("loaded-run-after-page-switch")


def test_compare_and_batch_set_ups_survive_a_reload(page, streamlit_app, shot):
    _arrange(streamlit_app)
    goto(page, streamlit_app, "compare")
    page.get_by_label("Prompt", exact=True).nth(1).click()
    page.get_by_role("option", name=NAME, exact=True).click()
    wait_idle(page)
    _type(page, "subject", "volcanoes")
    _reload(page)
    expect(page.get_by_label("subject", exact=True)).to_have_value("volcanoes", timeout=30_000)
    expect(page.get_by_label("Prompt", exact=True).nth(1)).to_have_value(NAME)
    shot("compare-after-reload")

    goto(page, streamlit_app, "batch")
    page.get_by_text("Stored dataset").click()
    wait_idle(page)
    page.get_by_label("Dataset", exact=True).click()
    page.get_by_role("option", name="kept-rows").first.click()
    wait_idle(page)
    _pick_multi(page, "Prompt versions", f"{NAME}:1")
    _pick_multi(page, "Models", "echo/echo")
    _reload(page)
    expect(page.get_by_text("Dataset kept-rows: 2 rows")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid=stMultiSelect]").filter(has_text="Prompt versions")).to_contain_text(f"{NAME}:1",
                                                                                                timeout=30_000)
    expect(page.locator("[data-testid=stMultiSelect]").filter(has_text="Models")).to_contain_text("echo/echo")
    shot("batch-after-reload")
