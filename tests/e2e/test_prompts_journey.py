"""Journey: create a prompt and save v1, edit and save v2, view the diff, promote v2 to production."""

from __future__ import annotations

from lib import db, prompts
from tests.e2e.conftest import expect, goto, wait_idle


def _type(page, locator, text: str) -> None:
    """Fill a Streamlit input and commit it (Streamlit sends the value on blur)."""
    locator.fill(text)
    locator.press("Tab")
    wait_idle(page)


def test_prompts_journey(page, streamlit_app, shot):
    goto(page, streamlit_app, "prompts")
    expect(page.get_by_role("heading", name="Prompts")).to_be_visible()
    shot("empty-list")

    page.get_by_role("button", name="New prompt").click()
    wait_idle(page)
    _type(page, page.get_by_label("Name", exact=True), "journey-summary")
    _type(page, page.get_by_label("Tags (comma-separated)"), "e2e")
    _type(page, page.get_by_label("Message 1 content"), "You summarise text.")
    _type(page, page.get_by_label("Message 2 content"), "Summarise {{ text }} in {{ words }} words.")
    expect(page.get_by_text("Variables:")).to_be_visible()
    expect(page.locator("code", has_text="words").first).to_be_visible()
    _type(page, page.get_by_label("Commit message"), "first draft")
    shot("new-prompt-filled")
    page.get_by_role("button", name="Create prompt").click()
    expect(page.get_by_text("Saved journey-summary v1.")).to_be_visible()
    shot("saved-v1")

    _type(page, page.get_by_label("Message 2 content"), "Summarise {{ text }} in at most {{ words }} words, "
                                                        "as bullet points.")
    expect(page.get_by_text("Unsaved changes").first).to_be_visible()
    _type(page, page.get_by_label("Commit message"), "bullets")
    shot("edited-unsaved")
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_text("Saved journey-summary v2.")).to_be_visible()

    page.get_by_role("tab", name="Versions").click()
    expect(page.get_by_role("tab", name="Versions")).to_have_attribute("aria-selected", "true")
    shot("timeline")

    page.get_by_role("tab", name="Diff").click()
    expect(page.get_by_text("v1 -> v2: 1 message changed")).to_be_visible()
    diff = page.locator("[data-testid=stCode]").filter(has_text="as bullet points").first
    expect(diff).to_contain_text("-Summarise {{ text }} in {{ words }} words.")
    expect(diff).to_contain_text("+Summarise {{ text }} in at most {{ words }} words, as bullet points.")
    shot("diff")

    page.get_by_role("tab", name="Labels").click()
    page.get_by_role("button", name="Promote").click()
    dialog = page.get_by_role("dialog")  # production is protected: confirm in a dialog first
    expect(dialog.get_by_text("production is not set yet; it will point at v2.")).to_be_visible()
    dialog.get_by_role("button", name="Move production to v2").click()
    expect(page.get_by_text("production now points at journey-summary v2.")).to_be_visible()
    expect(page.get_by_text("production → v2").first).to_be_visible()
    wait_idle(page)
    # #15 item 7: a promote keeps the person on the Labels tab (it used to jump back to Editor)
    expect(page.get_by_role("tab", name="Labels")).to_have_attribute("aria-selected", "true")
    shot("promoted")

    with db.session_scope(streamlit_app.engine()) as s:
        assert [v.number for v in prompts.list_versions(session=s, name="journey-summary")] == [1, 2]
        assert prompts.resolve(session=s, ref="journey-summary@production").number == 2
        assert prompts.resolve(session=s, ref="journey-summary:2").commit_message == "bullets"

    # the workspace and settings screens, for the screenshot folder
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Prompt Workbench")).to_be_visible()
    expect(page.get_by_text("Recent runs")).to_be_visible()
    shot("home")
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    shot("settings")
    assert page.dialogs == []
