"""Journey: pick a prompt in the Playground, fill its variables, run it and watch the answer stream in."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.models import Endpoint, Run
from tests.actors import ADMIN
from tests.e2e.conftest import goto, wait_idle

XSS = "<img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(3))"


def _type(page, locator, text: str) -> None:
    """Fill a Streamlit input and commit it (Streamlit sends the value on blur)."""
    locator.fill(text)
    locator.press("Tab")
    wait_idle(page)


def _arrange(app) -> None:
    with db.session_scope(app.engine()) as s:
        if s.exec(select(Endpoint).where(Endpoint.name == "slow-echo")).first() is None:
            # ~1.5 s spread over the chunks, so the answer visibly streams
            endpoints.add_endpoint(actor=ADMIN, session=s, name="slow-echo", kind="echo", models=["echo"],
                                   options={"latency_ms": 1500})
        prompts.create_prompt(actor=ADMIN, session=s, name="play-journey", model="slow-echo/echo",
                              params={"temperature": 0.2, "max_tokens": 400},
                              messages=[{"role": "system", "content": "You explain things simply."},
                                        {"role": "user", "content": "Explain {{topic}} to {{audience}}."}])


def test_playground_journey(page, streamlit_app, shot):
    _arrange(streamlit_app)
    goto(page, streamlit_app, "playground")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    page.get_by_label("Prompt", exact=True).click()
    page.get_by_role("option", name="play-journey").click()
    wait_idle(page)
    expect(page.get_by_text("Missing values: topic, audience")).to_be_visible()
    folder = shot("picked-prompt").parent

    _type(page, page.get_by_label("topic", exact=True), "recursion " + XSS)
    _type(page, page.get_by_label("audience", exact=True), "a new engineer")
    preview = page.locator("[data-testid=stCode]").filter(has_text="Explain recursion")
    expect(preview.first).to_contain_text("Explain recursion <img src=x onerror=alert(1)>")
    expect(page.get_by_text("prompt tokens (estimate)")).to_be_visible()
    shot("variables-filled")

    page.get_by_role("button", name="Run").click()
    answer = page.locator("[data-testid=stCode]").filter(has_text="[system] You explain")
    expect(answer.first).to_be_visible(timeout=10_000)
    partial = answer.first.inner_text()
    answer.first.scroll_into_view_if_needed()
    page.screenshot(path=str(folder / "02b-streaming.png"))  # mid-stream: no wait for the run to end
    expect(page.get_by_text("finish: stop")).to_be_visible(timeout=15_000)
    final = answer.first.inner_text()
    assert len(partial) < len(final), "the answer did not arrive in pieces"
    assert "[user] Explain recursion <img src=x onerror=alert(1)> <script>alert(2)</script>" in final
    expect(page.locator("[data-testid=stMetric]").filter(has_text="Tokens")).to_be_visible()
    expect(page.locator("[data-testid=stMetric]").filter(has_text="Cost")).to_contain_text("$0")
    expect(page.get_by_text("TTFT")).to_be_visible()
    page.get_by_text("finish: stop").scroll_into_view_if_needed()
    shot("answer")

    with db.session_scope(streamlit_app.engine()) as s:
        run = s.exec(select(Run).where(Run.prompt_name == "play-journey").order_by(Run.id.desc())).first()
    assert run is not None and run.status == "ok" and run.source == "playground"
    assert run.variables == {"topic": "recursion " + XSS, "audience": "a new engineer"}
    assert f"run={run.id}" in page.url  # the run is reopenable by its permalink

    # attach a code file as context: it lands in a variable with its size in tokens
    page.get_by_text("Attach text or code files").click()
    page.locator("[data-testid=stExpander]").filter(has_text="Attach text or code files").locator(
        "[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        files=[{"name": "util.py", "mimeType": "text/x-python", "buffer": b"def double(x):\n    return x * 2\n"}])
    wait_idle(page)
    expect(page.get_by_text("util.py: 32 bytes, ~")).to_be_visible()
    expect(page.get_by_text("replace the value typed for {{topic}}")).to_be_visible()
    expect(page.locator("[data-testid=stCode]").filter(has_text="File: util.py").first).to_contain_text(
        "def double(x):")
    page.get_by_text("util.py: 32 bytes, ~").scroll_into_view_if_needed()
    shot("attachment")
    assert page.locator("img[src=x]").count() == 0 and page.dialogs == []
