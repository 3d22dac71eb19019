"""Journey: upload a CSV on the Batch page, map a close column name, run it on an OpenAI-compatible
endpoint at the loopback fake server whose model has no known price, read the coloured results grid
and one row's full record, download the results."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from lib import db, prompts
from lib.client import endpoints
from tests.actors import ADMIN
from tests.e2e.conftest import goto, wait_idle
from tests.fakeserver import FakeServer

CSV = "customer_question,__expected\nwhat is the capital of France?,contains:France\n=HYPERLINK(\"http://x\"),contains:nope\n"


def _pick(page, label: str, option: str) -> None:
    box = page.locator("[data-testid=stMultiSelect]").filter(has_text=label)
    box.click()
    box.locator("input").fill(option)  # the list is virtualised: with other journeys' prompts it may be off-screen
    page.get_by_role("option", name=option, exact=True).click()  # exact: other journeys add similar names
    page.keyboard.press("Escape")
    wait_idle(page)


@pytest.fixture
def fake():
    server = FakeServer().start()
    yield server
    server.stop()


def test_batch_journey(page, streamlit_app, shot, tmp_path, fake):
    model = f"shots-{fake.port}/mystery-model"  # no price is known for it: every call is unpriced
    column = f"batch-journey:1 · {model}"
    with db.session_scope(streamlit_app.engine()) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name=f"shots-{fake.port}", kind="openai", base_url=fake.url,
                               models=["mystery-model"])
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
    _pick(page, "Models", model)
    # #15 item 12: the close column name is suggested (rapidfuzz) and applied, and said to be a suggestion
    expect(page.get_by_role("combobox", name="{{question}} ←")).to_have_value("customer_question")
    expect(page.get_by_text("suggested: customer_question (a close name; check it)")).to_be_visible()
    shot("mapping-suggestion")
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
        r"^#\d+ .* · \d{4}-\d\d-\d\d \d\d:\d\d UTC · batch-journey:1 · " + re.escape(model) + r" · .+ · done$"))
    shot("done")

    # #15 item 5: the model has no price, so the job's spend reads unknown (N calls unpriced), never $0
    spend = page.locator("[data-testid=stMain] [data-testid=stMetric]").filter(has_text="Spend")
    expect(spend.locator("[data-testid=stMetricValue]")).to_have_text("unknown")
    expect(spend.locator("[data-testid=stMetricDelta]")).to_have_text("2 calls unpriced")
    expect(spend).not_to_contain_text("$0")
    shot("unknown-spend")

    # #15 item 10: the grid marks pass and fail, the items table formats latency and cost (no raw None)
    grids = page.locator("[data-testid=stDataFrame]")
    # (the data grid draws on a canvas; its accessibility table carries the same cell text)
    grid = grids.filter(has=page.locator("th", has_text=column))
    expect(grid.locator("td", has_text=re.compile(r"^✅ pass · echo: Answer: what is the capital"))).to_have_count(1)
    expect(grid.locator("td", has_text=re.compile(r"^❌ fail · echo: Answer: =HYPERLINK"))).to_have_count(1)
    items = grids.filter(has=page.locator("th", has_text=re.compile(r"^latency$")))
    expect(items.locator("td", has_text=re.compile(r"^\d[\d,.]* (ms|s)$"))).to_have_count(2)
    expect(items.locator("td", has_text=re.compile(r"^unknown$"))).to_have_count(2)  # the cost column, not $0
    expect(items.locator("td", has_text=re.compile(r"^(None|nan)$"))).to_have_count(0)
    shot("results-grid")

    # a row opens its full record: inputs, the rendered messages, the answer, each evaluator's verdict + reason
    cell = page.get_by_role("combobox", name="Open a cell")
    cell.click()
    cell.fill("row 2")
    page.get_by_role("option", name=f"row 2 · {column}", exact=True).click()
    wait_idle(page)
    expect(page.get_by_text(f"batch-journey:1 on {model}, row 2: fail", exact=True)).to_be_visible()
    record = page.locator("[data-testid=stMain] [data-testid=stCode]")
    expect(record.filter(has_text='customer_question: =HYPERLINK("http://x")')).to_have_count(1)
    expect(record.filter(has_text='[user] Answer: =HYPERLINK("http://x")')).not_to_have_count(0)
    verdicts = grids.filter(has=page.locator("th", has_text=re.compile(r"^reason$")))
    expect(verdicts.locator("tbody tr")).to_have_count(1)
    expect(verdicts.locator("tbody tr").first.locator("td")).to_have_text(
        ["contains:nope", "fail", re.compile(r"^0%$"), re.compile(r"\S")])  # a reason, not an empty cell
    shot("row-record")

    page.get_by_role("button", name="Prepare downloads").click()
    wait_idle(page)
    with page.expect_download(timeout=20_000) as info:
        page.get_by_role("button", name="Download CSV").click()
    path = Path(info.value.path())
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("row,repeat,version,model,state,output")
    assert "echo: Answer: what is the capital of France?" in text
    assert [r["cost_usd"] for r in csv.DictReader(io.StringIO(text))] == ["", ""]  # unpriced: blank, not 0
    assert "'=HYPERLINK" in text  # the formula cell cannot run in a spreadsheet
    assert len([ln for ln in text.splitlines() if ln.strip()]) == 3
    assert page.dialogs == []
    shot("downloaded")
