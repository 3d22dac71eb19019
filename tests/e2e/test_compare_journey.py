"""Journey: compare three columns side by side; they run at once and fill as their answers arrive."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.models import Comparison, Endpoint, Run
from tests.actors import ADMIN
from tests.e2e.conftest import goto, wait_idle


def _arrange(app) -> None:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Endpoint).where(Endpoint.name == "slow-echo")).first() is None:
            endpoints.add_endpoint(actor=ADMIN, session=s, name="slow-echo", kind="echo", models=["echo"],
                                   options={"latency_ms": 1500})
        prompts.create_prompt(actor=ADMIN, session=s, name="cmp-journey", model="slow-echo/echo",
                              messages=[{"role": "user", "content": "Name three {{thing}}."}])
        prompts.save_version(actor=ADMIN, session=s, name="cmp-journey", model="slow-echo/echo",
                             messages=[{"role": "system", "content": "Be brief."},
                                       {"role": "user", "content": "List three {{thing}}, one per line."}])


def _pick(page, label: str, index: int, option: str) -> None:
    page.get_by_label(label, exact=True).nth(index).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_compare_journey(page, streamlit_app, shot):
    _arrange(streamlit_app)
    goto(page, streamlit_app, "compare")
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    for i in range(3):
        _pick(page, "Prompt", i, "cmp-journey")
    _pick(page, "Version", 1, "v1")
    page.get_by_text("Send max tokens", exact=True).nth(2).click()  # sampling fields are sent only when on
    wait_idle(page)
    page.get_by_label("Max tokens", exact=True).nth(2).fill("5")
    page.get_by_label("Max tokens", exact=True).nth(2).press("Tab")
    wait_idle(page)
    page.get_by_label("thing", exact=True).fill("rivers")
    page.get_by_label("thing", exact=True).press("Tab")
    wait_idle(page)
    folder = shot("three-columns-set-up").parent

    page.get_by_role("button", name="Run all columns").click()
    expect(page.get_by_text("streaming...").first).to_be_visible(timeout=10_000)
    # #15 item 9: the set-up folds away and the window is at the answers, without the person scrolling
    expect(page.get_by_text("streaming...").first).to_be_in_viewport()
    expect(page.get_by_label("thing", exact=True)).to_be_hidden()
    page.screenshot(path=str(folder / "01b-filling.png"))  # mid-run: columns fill as answers arrive
    expect(page.get_by_role("heading", name="Diff of two answers")).to_be_visible(timeout=20_000)
    # concurrency is checked below from the runs' own intervals, not by the browser's wall time (#11 item 13)
    wait_idle(page)
    answers = page.locator("[data-testid=stCode]").filter(has_text="[user]")
    expect(answers.filter(has_text="List three rivers, one per line.").first).to_be_visible()
    expect(answers.filter(has_text="[user] Name three rivers.").first).to_be_visible()
    expect(page.get_by_text("finish: length")).to_be_visible()  # column 3 was capped at 5 tokens
    expect(page.get_by_text("cmp-journey:1 · slow-echo/echo").first).to_be_visible()
    page.get_by_role("heading", name="Diff of two answers").scroll_into_view_if_needed()
    shot("answers-and-diff")

    with db.session_scope(streamlit_app.engine()) as s:
        cmp = s.exec(select(Comparison).order_by(Comparison.created_at.desc())).first()
        runs = [s.get(Run, rid) for rid in cmp.run_ids]
    assert len(runs) == 3 and all(r is not None and r.source == "compare" for r in runs)
    # Concurrent, not one after another: every call's [start, end] interval overlaps the others.
    spans = [(r.created_at - timedelta(milliseconds=r.latency_ms), r.created_at) for r in runs]
    assert max(a for a, _ in spans) < min(b for _, b in spans), spans
    assert f"compare={cmp.id}" in page.url

    page.get_by_role("button", name="Good").first.click()
    wait_idle(page)
    with db.session_scope(streamlit_app.engine()) as s:
        assert s.get(Run, cmp.run_ids[0]).rating == 1
    # #15 item 7: the arena box stays open when the leaderboard is switched on (it used to snap shut)
    page.get_by_text("Arena leaderboard (from votes)", exact=True).click()
    wait_idle(page)
    arena = page.locator(".st-key-cmp_arena_open")
    arena.get_by_text("Show the leaderboard", exact=True).click()
    wait_idle(page)
    expect(arena.get_by_text("Show the leaderboard", exact=True)).to_be_visible()
    expect(arena.get_by_text("prompt versions on models", exact=True)).to_be_visible()
    arena.scroll_into_view_if_needed()
    shot("arena-box-stays-open")

    # #15 item 15: the permalink is the full address in a code box (with its copy button) and an Open link
    link = page.locator("[data-testid=stCode]").filter(has_text=f"?compare={cmp.id}").first
    expect(link).to_contain_text(f"{streamlit_app.url}/compare?compare={cmp.id}")
    expect(page.get_by_role("link", name="Open")).to_have_attribute("href", re.compile(rf"\?compare={cmp.id}$"))
    link.hover()
    expect(link.get_by_role("button")).to_be_visible()  # st.code's copy button
    shot("permalink-copyable")
    page.goto(page.url)  # the permalink reopens the same comparison with its answers
    wait_idle(page, 60_000)
    expect(page.locator("[data-testid=stCode]").filter(has_text="List three rivers").first).to_be_visible()
    shot("permalink")
    assert page.dialogs == []
