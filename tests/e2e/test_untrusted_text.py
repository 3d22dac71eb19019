"""Untrusted text stays text: a prompt, a variable value and a model answer carrying HTML, a script tag
and a javascript: link show literally in the browser, and no dialog ever opens."""

from __future__ import annotations

from lib import db, prompts
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
LINK = "[x](javascript:alert(3))"
EVIL = f"{IMG} {SCRIPT} {LINK}"
NAME = "aaa-untrusted-probe"


def _assert_inert(page) -> None:
    """Nothing the payload could have created exists in the page, and no dialog opened."""
    main = page.locator("[data-testid=stApp]")
    assert main.locator("img[src='x']").count() == 0
    assert main.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("() => [...document.querySelectorAll('script')].filter("
                         "s => s.textContent.includes('alert(2)')).length") == 0
    page.wait_for_timeout(300)  # give an onerror handler the chance to fire if it had been created
    assert page.dialogs == []


def _seed(app) -> None:
    with db.session_scope(app.engine()) as s:
        try:
            prompts.get_prompt(session=s, name=NAME)
            return
        except Exception:
            pass
        prompts.create_prompt(actor=ADMIN, session=s, name=NAME, description=f"Description {EVIL}", model="echo/echo",
                              messages=[{"role": "system", "content": f"System says {EVIL}"},
                                        {"role": "user", "content": "Repeat this: {{ payload }}"}])


def test_untrusted_text_on_the_prompts_page(page, streamlit_app, shot):
    _seed(streamlit_app)
    goto(page, streamlit_app, f"prompts?prompt={NAME}")
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    expect(page.get_by_text(f"Description {EVIL}", exact=True)).to_be_visible()
    expect(page.get_by_label("Message 1 content")).to_have_value(f"System says {EVIL}")
    page.get_by_role("tab", name="Manage").click()
    shot("prompts-page")
    _assert_inert(page)


def test_untrusted_variable_and_answer_in_the_playground(page, streamlit_app, shot):
    _seed(streamlit_app)
    goto(page, streamlit_app, "playground")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    prompt_box = page.get_by_label("Prompt", exact=True)
    prompt_box.click()
    page.get_by_role("option", name=NAME).click()
    wait_idle(page)
    field = page.get_by_label("payload", exact=True)
    field.fill(f"value {EVIL}")
    field.press("Tab")
    wait_idle(page)
    expect(page.get_by_text(f"System says {EVIL}").first).to_be_visible()  # the preview, literally
    shot("variable-filled")
    page.get_by_role("button", name="Run", exact=True).click()
    wait_idle(page, 60_000)
    # the echo model answers with the rendered messages, so the answer carries the payload too
    answer = page.get_by_text(f"[user] Repeat this: value {EVIL}").first
    expect(answer).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"System says {EVIL}").first).to_be_attached()  # in the folded preview
    answer.scroll_into_view_if_needed()
    shot("answer")
    _assert_inert(page)
