"""Journey: open a run from History by its permalink (?run=ID), read its record, re-run it, search the log."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import select

from lib import db, prompts
from lib.models import Run
from tests.actors import ADMIN
from tests.e2e.conftest import goto, wait_idle

ANSWER = "Paris. <img src=x onerror=alert(1)> [x](javascript:alert(1))"


def _arrange(app) -> int:
    with db.session_scope(app.engine()) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="hist-journey", model="echo/echo",
                                  messages=[{"role": "user", "content": "Capital of {{country}}?"}])
        run = Run(source="cli", prompt_id=v.prompt_id, version_id=v.id, prompt_name="hist-journey",
                  version_number=1, endpoint="echo", model="echo", params={"temperature": 0.1},
                  variables={"country": "Freedonia"}, messages=[{"role": "user", "content": "Capital of Freedonia?"}],
                  output=ANSWER, finish_reason="stop", prompt_tokens=12, completion_tokens=9, cost_usd=None,
                  latency_ms=321.0, ttft_ms=55.0, attempts=2, usage_raw={"prompt_tokens": 12, "completion_tokens": 9})
        s.add(run)
        s.add(Run(source="batch", prompt_id=v.prompt_id, version_id=v.id, prompt_name="hist-journey",
                  version_number=1, endpoint="echo", model="echo", variables={"country": "Freedonia"},
                  messages=[{"role": "user", "content": "Capital of Freedonia?"}],
                  output="[user] Capital of Freedonia?", status="ok", latency_ms=5.0))
        s.commit()
        return run.id


def test_history_journey(page, streamlit_app, shot):
    run_id = _arrange(streamlit_app)
    goto(page, streamlit_app, f"history?run={run_id}")
    expect(page.get_by_role("heading", name=f"Run #{run_id} · ok · cli")).to_be_visible()
    expect(page.locator("[data-testid=stCode]").filter(has_text="Paris.").first).to_contain_text(ANSWER)
    expect(page.locator("[data-testid=stMetric]").filter(has_text="Cost")).to_contain_text("unknown")
    expect(page.get_by_text("attempts: 2")).to_be_visible()
    shot("record")

    page.get_by_role("tab", name="Rendered messages").click()
    expect(page.locator("[data-testid=stCode]").filter(has_text="Capital of Freedonia?").first).to_be_visible()
    page.get_by_role("tab", name="Parameters, variables and usage").click()
    expect(page.get_by_text("Raw usage")).to_be_visible()
    shot("record-details")

    page.get_by_role("button", name="Re-run with the same settings").click()
    expect(page.get_by_text(f"Re-ran run #{run_id} as run #")).to_be_visible(timeout=15_000)
    with db.session_scope(streamlit_app.engine()) as s:
        new = s.exec(select(Run).where(Run.prompt_name == "hist-journey").order_by(Run.id.desc())).first()
    assert new.id != run_id and new.output == "[user] Capital of Freedonia?"
    assert new.variables == {"country": "Freedonia"}
    assert f"run={new.id}" in page.url
    expect(page.get_by_role("heading", name=f"Run #{new.id} · ok · playground")).to_be_visible()
    shot("re-run")

    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("heading", name=f"Run #{new.id} · ok · playground")).to_have_count(0)
    search = page.get_by_label("Search inputs and outputs")
    expect(search).to_have_count(1)  # the element from before the rerun is gone
    wait_idle(page)
    search.fill("capital of freedonia")
    search.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("2 runs · page 1 of 1")).to_be_visible()
    # #15 item 15: batch runs are hidden by default, said so, and one toggle away
    expect(page.get_by_text("1 batch run hidden: turn on 'Include batch runs' to list them.")).to_be_visible()
    shot("log-search")
    page.get_by_text("Include batch runs", exact=True).click()
    wait_idle(page)
    expect(page.get_by_text("3 runs · page 1 of 1")).to_be_visible()
    expect(page.get_by_text("batch run hidden")).to_have_count(0)
    shot("log-with-batch-runs")
    assert page.locator("img[src=x]").count() == 0 and page.dialogs == []
