"""Journey (#15 item 1): a blind comparison shows only the answers, under shuffled names, until the vote.

Run a normal comparison first (its diff boxes carry real names), then the same columns blind: no card shows
cost, tokens, latency, a fastest/cheapest badge or a run number, no version or model name is on the page,
and the vote starts unselected.  After the vote the names come back.
"""

from __future__ import annotations

import re

from sqlmodel import select

from lib import db, prompts
from lib.models import Prompt
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle

NAME = "blind-journey"
LEAKS = (f"{NAME}:", "echo/echo", "Cost", "Tokens", "Latency", "fastest", "cheapest", "run #", "TTFT")


def _arrange(app) -> None:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Prompt).where(Prompt.name == NAME)).first() is None:
            prompts.create_prompt(actor=ADMIN, session=s, name=NAME, model="echo/echo",
                                  messages=[{"role": "user", "content": "Say {{word}}."}])
            prompts.save_version(actor=ADMIN, session=s, name=NAME, model="echo/echo",
                                 messages=[{"role": "system", "content": "Be brief, always."},
                                           {"role": "user", "content": "Say {{word}}."}])
            s.commit()


def _results_text(page) -> str:
    """What the person sees below the set-up (the collapsed set-up lists what they picked themselves)."""
    main = page.locator("[data-testid=stMain]")
    text = main.inner_text()
    return text.split("Permalink", 1)[-1] if "Permalink" in text else text


def test_blind_mode_shows_only_answers_until_the_vote(page, streamlit_app, shot):
    _arrange(streamlit_app)
    goto(page, streamlit_app, "compare")
    page.get_by_label("Columns", exact=True).fill("2")
    page.get_by_label("Columns", exact=True).press("Tab")
    wait_idle(page)
    for i in range(2):
        page.get_by_label("Prompt", exact=True).nth(i).click()
        page.get_by_role("option", name=NAME, exact=True).click()
        wait_idle(page)
    page.get_by_label("Version", exact=True).nth(1).click()
    page.get_by_role("option", name="v1").click()
    wait_idle(page)
    page.get_by_label("word", exact=True).fill("hello")
    page.get_by_label("word", exact=True).press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="Run all columns").click()
    expect(page.get_by_role("heading", name="Diff of two answers")).to_be_visible(timeout=20_000)
    wait_idle(page)
    expect(page.get_by_text(f"{NAME}:1 · echo/echo").first).to_be_visible()  # a normal run shows names
    shot("normal-run-with-names")

    toggle = page.get_by_text("Blind mode (hide names and shuffle until you vote)")
    assert not toggle.is_visible()  # the set-up collapsed after Run: the answers come first
    page.get_by_text("Columns and variables").first.click()  # open the set-up again
    wait_idle(page)
    page.get_by_text("Blind mode (hide names and shuffle until you vote)").click()
    wait_idle(page)
    page.get_by_role("button", name="Run all columns").click()
    expect(page.get_by_role("heading", name="Which answer is best?")).to_be_visible(timeout=20_000)
    wait_idle(page)
    page.get_by_text("Columns and variables").first.scroll_into_view_if_needed()
    seen = _results_text(page)
    for leak in LEAKS:
        assert leak not in seen, f"blind mode shows {leak!r}:\n{seen}"
    assert re.search(r"Answer A.*Answer B", seen, re.S), seen
    radios = page.locator("[data-testid=stRadio]").filter(has_text="Your vote").locator("input[type=radio]")
    assert radios.count() == 3 and all(not radios.nth(i).is_checked() for i in range(3))
    shot("blind-answers-only")

    page.locator("[data-testid=stRadio]").filter(has_text="Your vote").get_by_text("Answer A").click()
    wait_idle(page)
    page.get_by_role("button", name="Vote and reveal").click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"Answer A: blind-journey:\d · echo/echo")).first).to_be_visible()
    shot("revealed-after-vote")
    assert page.dialogs == []
