"""Journey: upload a CSV on the Batch page, run it on the echo endpoint, download the results."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from lib import db, prompts
from tests.actors import ADMIN
from tests.e2e.conftest import goto, wait_idle

CSV = "question,__expected\nwhat is the capital of France?,contains:France\n=HYPERLINK(\"http://x\"),contains:nope\n"


def _pick(page, label: str, option: str) -> None:
    box = page.locator("[data-testid=stMultiSelect]").filter(has_text=label)
    box.click()
    box.locator("input").fill(option)  # the list is virtualised: with other journeys' prompts it may be off-screen
    page.get_by_role("option", name=option, exact=True).click()  # exact: other journeys add similar names
    page.keyboard.press("Escape")
    wait_idle(page)


def test_batch_journey(page, streamlit_app, shot, tmp_path):
    with db.session_scope(streamlit_app.engine()) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="batch-journey",
                              messages=[{"role": "user", "content": "Answer: {{question}}"}])
    data = tmp_path / "journey.csv"
    data.write_text(CSV, encoding="utf-8")
    goto(page, streamlit_app, "batch")
    expect(page.get_by_role("heading", name="Batch")).to_be_visible()
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(data))
    wait_idle(page)
    expect(page.get_by_text("Dataset journey: 2 rows")).to_be_visible()
    shot("uploaded")

    _pick(page, "Prompt versions", "batch-journey:1")
    _pick(page, "Models", "echo/echo")
    page.get_by_text("Preview of the first rendered prompts").click()
    expect(page.locator("[data-testid=stCode]").filter(has_text="Answer: what is the capital").first).to_be_visible()
    shot("mapping-preview")
    page.get_by_role("button", name="Preflight").click()
    wait_idle(page)
    expect(page.locator("[data-testid=stMain] [data-testid=stMetric]").filter(has_text="Calls")).to_contain_text("2")
    shot("preflight")

    page.get_by_role("button", name="Start the job").click()
    wait_idle(page)
    status = page.locator("[data-testid=stMain] [data-testid=stMetric]").filter(has_text="Status")
    expect(status).to_contain_text("done", timeout=30_000)
    wait_idle(page)
    done = page.locator("[data-testid=stMain] [data-testid=stMetric]").filter(has=page.get_by_text("Done", exact=True))
    expect(done).to_contain_text("2")
    # #15 item 15: the job picker says when, which versions and models, the evaluators and the status
    picker = page.get_by_role("combobox", name="Job")
    expect(picker).to_have_value(re.compile(
        r"^#\d+ .* · \d{4}-\d\d-\d\d \d\d:\d\d UTC · batch-journey:1 · echo/echo · .+ · done$"))
    shot("done")

    page.get_by_role("button", name="Prepare downloads").click()
    wait_idle(page)
    with page.expect_download(timeout=20_000) as info:
        page.get_by_role("button", name="Download CSV").click()
    path = Path(info.value.path())
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("row,repeat,version,model,state,output")
    assert "[user] Answer: what is the capital of France?" in text
    assert "'=HYPERLINK" in text  # the formula cell cannot run in a spreadsheet
    assert len([ln for ln in text.splitlines() if ln.strip()]) == 3
    assert page.dialogs == []
    shot("downloaded")
