"""Journeys (#15 items 2 and 4): the Playground never shows a number that is not the current run's, and
the JSON parameters cannot silently override the typed fields."""

from __future__ import annotations

import re

from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.models import Endpoint, Prompt, Run
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle

NAME = "trust-journey"


def _arrange(app) -> None:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Endpoint).where(Endpoint.name == "slow-echo")).first() is None:
            endpoints.add_endpoint(actor=ADMIN, session=s, name="slow-echo", kind="echo", models=["echo"],
                                   options={"latency_ms": 1500})
        if s.exec(select(Prompt).where(Prompt.name == NAME)).first() is None:
            prompts.create_prompt(actor=ADMIN, session=s, name=NAME, model="slow-echo/echo",
                                  messages=[{"role": "user", "content": "Tell me about {{topic}}."}])
        s.commit()


def _open(page, app) -> None:
    goto(page, app, "playground")
    page.get_by_label("Prompt", exact=True).click()
    page.get_by_role("option", name=NAME).click()
    wait_idle(page)
    box = page.get_by_label("topic", exact=True)
    box.fill("rivers")
    box.press("Tab")
    wait_idle(page)


def _last_run_id(app) -> int:
    with db.session_scope(app.engine()) as s:
        return s.exec(select(Run.id).where(Run.prompt_name == NAME).order_by(Run.id.desc())).first()


def test_figures_of_the_last_run_clear_at_run(page, streamlit_app, shot):
    _arrange(streamlit_app)
    _open(page, streamlit_app)
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("finish: stop")).to_be_visible(timeout=20_000)
    first = _last_run_id(streamlit_app)
    expect(page.get_by_text(re.compile(rf"run #{first}\b")).first).to_be_visible()
    box = page.get_by_label("topic", exact=True)
    box.fill("lakes")  # an edit reruns the page: the last answer is shown again, with its figures
    box.press("Tab")
    wait_idle(page)
    expect(page.get_by_role("heading", name=f"Answer (run #{first})")).to_be_visible()
    folder = shot("first-run-done").parent

    page.get_by_role("button", name="Run").click()
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'running'", timeout=10_000)
    page.wait_for_timeout(300)  # the call takes 1.5 s: we look while it streams
    stale = page.get_by_text(re.compile(rf"run #{first}\b"))
    found = [stale.nth(i).evaluate("e => e.closest('[data-testid]').parentElement.outerHTML.slice(0, 600)")
             for i in range(stale.count())]
    assert not found, f"the last run's figures are still shown: {found}"
    expect(page.get_by_role("heading", name="Answer (running)")).to_be_visible(timeout=10_000)
    cost = page.locator("[data-testid=stMetric]").filter(has_text="Cost")
    expect(cost).to_contain_text("running")
    expect(page.locator("[data-testid=stMetric]").filter(has_text="Tokens")).to_contain_text("running")
    assert page.get_by_text(re.compile(rf"run #{first}\b")).count() == 0, "the last run's figures are still shown"
    assert page.get_by_text("finish: stop").count() == 0
    page.get_by_role("heading", name="Answer (running)").scroll_into_view_if_needed()
    page.screenshot(path=str(folder / "01b-second-run-streaming.png"))  # mid-run, not waiting for the end
    expect(page.get_by_text("finish: stop")).to_be_visible(timeout=20_000)
    second = _last_run_id(streamlit_app)
    assert second > first
    expect(page.get_by_role("heading", name=f"Answer (run #{second})")).to_be_visible()
    expect(cost).to_contain_text("$0")
    shot("second-run-done")


def test_other_parameters_never_override_the_typed_fields(page, streamlit_app, shot):
    _arrange(streamlit_app)
    _open(page, streamlit_app)
    extra = page.get_by_label("Other parameters (JSON)", exact=True)
    extra.fill('{"temperature":"hot","top_p":7}')
    extra.press("Tab")
    wait_idle(page)
    alert = page.locator("[data-testid=stAlert]").filter(has_text="Other parameters")
    expect(alert).to_contain_text("temperature has its own field above")
    expect(alert).to_contain_text("top_p: 7 is out of range")
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    alert.scroll_into_view_if_needed()
    shot("refused")
    extra.fill('{"top_p":0.5,"my_flag":true}')
    extra.press("Tab")
    wait_idle(page)
    expect(page.get_by_text("Sent as is (not a known parameter): my_flag")).to_be_visible()
    expect(page.get_by_role("button", name="Run")).to_be_enabled()
    shot("accepted")


def test_a_long_input_does_not_grow_the_preview_without_limit(page, streamlit_app, shot):
    """#15 item 9: the preview panel is capped (it scrolls) however long the variables are."""
    _arrange(streamlit_app)
    _open(page, streamlit_app)
    box = page.get_by_label("topic", exact=True)
    box.fill("\n".join(f"line {i} of a very long pasted document" for i in range(300)))
    box.press("Tab")
    wait_idle(page)
    preview = page.locator(".st-key-play_preview_box")
    expect(preview).to_contain_text("line 0 of a very long")
    height = preview.bounding_box()["height"]
    assert height <= 450, f"the preview is {height:.0f} px tall"
    shot("long-input-preview-capped")

    # #15 item 9: after Run the page scrolls to the answer (it used to land below the fold, under the set-up)
    page.evaluate("window.scrollTo(0, 0)")  # the person is at the top, where the variables are
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("finish: stop")).to_be_visible(timeout=20_000)
    wait_idle(page)
    heading = page.get_by_role("heading", name=re.compile(r"^Answer \(run #\d+\)"))
    expect(heading).to_be_in_viewport()
    top = heading.bounding_box()["y"]
    assert 50 < top < 300, f"the answer starts {top:.0f} px down the window (under the header below 50)"
    expect(page.locator(".st-key-play_preview_box")).to_be_hidden()  # the set-up's preview folded away
    shot("answer-in-view-after-run")
