"""Journeys against the loopback fake provider: a tool call answered and the conversation continued;
an image attached and sent to an Anthropic endpoint."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.models import Run
from tests.actors import ADMIN
from tests.e2e.conftest import goto, wait_idle
from tests.fakefaults import Fault
from tests.fakeserver import FakeServer

pytestmark = pytest.mark.e2e

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def fake():
    server = FakeServer().start()
    yield server
    server.stop()


def _type(page, locator, text: str) -> None:
    locator.fill(text)
    locator.press("Tab")
    wait_idle(page)


def _pick_prompt(page, name: str) -> None:
    page.get_by_label("Prompt", exact=True).click()
    page.get_by_role("option", name=name).click()
    wait_idle(page)


def _runs(app, name: str) -> list[Run]:
    with db.session_scope(app.engine()) as s:
        return list(s.exec(select(Run).where(Run.prompt_name == name).order_by(Run.id)))


def test_tool_call_answered_and_continued(page, streamlit_app, shot, fake):
    with db.session_scope(streamlit_app.engine()) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name=f"tools-{fake.port}", kind="openai", base_url=fake.url,
                               models=["gpt-tools"])
        prompts.create_prompt(actor=ADMIN, session=s, name="tool-journey", model=f"tools-{fake.port}/gpt-tools",
                              params={"tools": WEATHER}, messages=[{"role": "user", "content": "Weather in {{city}}?"}])
    fake.script(Fault(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]))
    goto(page, streamlit_app, "playground")
    _pick_prompt(page, "tool-journey")
    _type(page, page.get_by_label("city", exact=True), "Paris")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("Tool call: get_weather (call_1)")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("(empty answer)")).to_have_count(0)
    shot("tool-call")

    # the label is markdown-escaped, so its aria-label carries the escapes: match its start
    _type(page, page.locator('textarea[aria-label^="Result of get"]'), "18C and sunny")
    page.get_by_role("button", name="Send tool results").click()
    expect(page.locator("[data-testid=stCode]").filter(has_text="echo: 18C and sunny").first).to_be_visible(
        timeout=15_000)
    shot("tool-answered")
    _type(page, page.get_by_label("Next message"), "And tomorrow?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("[data-testid=stCode]").filter(has_text="echo: And tomorrow?").first).to_be_visible(
        timeout=15_000)
    shot("continued")
    runs = _runs(streamlit_app, "tool-journey")
    assert len(runs) == 3 and runs[1].parent_run_id == runs[0].id and runs[2].parent_run_id == runs[1].id
    assert [m["role"] for m in fake.requests[-1].body["messages"]] == ["user", "assistant", "tool", "assistant",
                                                                       "user"]
    assert page.dialogs == []


def test_image_attached_and_sent(page, streamlit_app, shot, fake):
    with db.session_scope(streamlit_app.engine()) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name=f"vision-{fake.port}", kind="anthropic", base_url=fake.url,
                               models=["claude-vision"])
        prompts.create_prompt(actor=ADMIN, session=s, name="image-journey", model=f"vision-{fake.port}/claude-vision",
                              messages=[{"role": "user", "content": "Describe this picture for {{who}}."}])
    goto(page, streamlit_app, "playground")
    _pick_prompt(page, "image-journey")
    _type(page, page.get_by_label("who", exact=True), "a child")
    box = page.locator("[data-testid=stExpander]").filter(has_text="Attach images or PDFs").first
    box.get_by_text("Attach images or PDFs").first.click()
    box.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}])
    wait_idle(page)
    expect(page.get_by_text("notes.txt: not a PNG")).to_be_visible()
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    box.locator("[data-testid=stFileChipDeleteBtn]").first.click()
    wait_idle(page)
    box.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        files=[{"name": "dot.png", "mimeType": "image/png", "buffer": PNG}])
    wait_idle(page)
    expect(page.get_by_text("dot.png: image/png")).to_be_visible()
    shot("image-attached")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("finish: end_turn")).to_be_visible(timeout=15_000)
    shot("image-sent")
    blocks = fake.requests[-1].body["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "Describe this picture for a child."}
    assert blocks[1]["type"] == "image" and blocks[1]["source"]["media_type"] == "image/png"
    assert _runs(streamlit_app, "image-journey")[-1].status == "ok"
