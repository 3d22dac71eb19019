"""Journey: create a prompt and save v1, edit and save v2, view the diff, promote v2 to production."""

from __future__ import annotations

from sqlmodel import select

from lib import db, prompts
from lib.client import endpoints
from lib.models import Endpoint
from tests.actors import ADMIN
from tests.e2e.conftest import expect, goto, wait_idle
from tests.fakeserver import free_port


def _type(page, locator, text: str) -> None:
    """Fill a Streamlit input and commit it (Streamlit sends the value on blur).

    After a rerun that swaps the New-prompt editor for the prompt's tabs, a stale copy of the old field can
    linger a moment: wait until exactly one field is left, so the strict locator never meets two."""
    expect(locator).to_have_count(1)
    locator.fill(text)
    locator.press("Tab")
    wait_idle(page)


def _open_tab(page, name: str) -> None:
    """Click a tab once the page is idle (a rerun can briefly show a stale copy of the tab bar)."""
    wait_idle(page)
    page.get_by_role("tab", name=name).first.click()
    wait_idle(page)


def _expect_tab(page, name: str) -> None:
    """The tab `name` is the selected one (in every copy of the tab bar on the page)."""
    wait_idle(page)
    expect(page.get_by_role("tab", name=name, selected=True).first).to_be_visible()
    expect(page.get_by_role("tab", name=name, selected=False)).to_have_count(0)


def test_prompts_journey(page, streamlit_app, shot):
    with db.session_scope(streamlit_app.engine()) as s:  # an endpoint nothing answers on (for the Test check)
        if s.exec(select(Endpoint).where(Endpoint.name == "dead-journey")).first() is None:
            endpoints.add_endpoint(actor=ADMIN, session=s, name="dead-journey", kind="openai",
                                   base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=3.0)
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

    _open_tab(page, "Versions")
    _expect_tab(page, "Versions")
    shot("timeline")

    _open_tab(page, "Diff")
    expect(page.get_by_text("v1 -> v2: 1 message changed")).to_be_visible()
    diff = page.locator("[data-testid=stCode]").filter(has_text="as bullet points").first
    expect(diff).to_contain_text("-Summarise {{ text }} in {{ words }} words.")
    expect(diff).to_contain_text("+Summarise {{ text }} in at most {{ words }} words, as bullet points.")
    shot("diff")
    # #15 item 14: a word-level diff marks only the words that changed
    page.locator(".st-key-prompts_diff_by").get_by_text("words", exact=True).click()
    wait_idle(page)
    words = page.locator("[data-testid=stCode]").filter(has_text="{+at most +}").first
    expect(words).to_contain_text("Summarise {{ text }} in {+at most +}{{ words }} words{+, as bullet points+}.")
    _expect_tab(page, "Diff")
    shot("diff-by-words")

    _open_tab(page, "Labels")
    page.get_by_role("button", name="Promote").click()
    dialog = page.get_by_role("dialog")  # production is protected: confirm in a dialog first
    expect(dialog.get_by_text("production is not set yet; it will point at v2.")).to_be_visible()
    dialog.get_by_role("button", name="Move production to v2").click()
    expect(page.get_by_text("production now points at journey-summary v2.")).to_be_visible()
    expect(page.get_by_text("production → v2").first).to_be_visible()
    wait_idle(page)
    # #15 item 7: a promote keeps the person on the Labels tab (it used to jump back to Editor)
    _expect_tab(page, "Labels")
    # #15 item 14: a first promote leaves nothing to roll back to: the button is off and says why
    expect(page.get_by_role("button", name="Roll back", exact=True)).to_be_disabled()
    expect(page.get_by_text("production has no earlier version: it has only been set once.")).to_be_visible()
    shot("promoted")

    # #15 item 14: view v1 read-only, then restore it as the draft (the editor opens on it)
    _open_tab(page, "Versions")
    page.get_by_label("View version", exact=True).click()
    page.get_by_role("option", name="v1", exact=True).click()
    wait_idle(page)
    view = page.locator(".st-key-prompts_version_view")
    expect(view).to_contain_text("v1 · read-only")
    expect(view.locator("[data-testid=stCode]").filter(
        has_text="Summarise {{ text }} in {{ words }} words.")).to_be_visible()
    _expect_tab(page, "Versions")  # item 7
    shot("v1-read-only")
    page.get_by_role("button", name="Restore as draft").click()
    expect(page.get_by_text("v1 is now your draft: save it to make it the newest version.")).to_be_visible()
    _expect_tab(page, "Editor")
    expect(page.get_by_label("Message 2 content")).to_have_value("Summarise {{ text }} in {{ words }} words.")
    shot("v1-restored-as-draft")

    _open_tab(page, "Versions")
    page.get_by_role("button", name="Open in Playground").click()
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    expect(page.get_by_role("combobox", name="Prompt")).to_have_value("journey-summary")
    expect(page.get_by_role("combobox", name="Version or label")).to_have_value("v1")
    shot("v1-in-playground")

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

    # #15 item 11: a failed Test is shown as failed, with its time, and still after a reload
    page.get_by_text("dead-journey (openai)").click()
    page.locator(".st-key-settings_ep_dead-journey_test").get_by_role("button").click()
    expect(page.get_by_text("Test failed at").first).to_be_visible()
    page.reload()
    wait_idle(page, 60_000)
    side = page.get_by_test_id("stSidebar")
    expect(side.get_by_text("dead-journey")).to_be_visible()
    expect(side.get_by_text("failed (unreachable)")).to_be_visible()
    page.get_by_text("dead-journey (openai)").click()
    expect(page.get_by_text("Test failed at").first).to_be_visible()
    shot("failed-test-kept-after-reload")

    # #15 item 7: 'Add an endpoint' stays open after an error and on the next edit
    page.get_by_text("Add an endpoint", exact=True).click()
    wait_idle(page)
    add = page.locator(".st-key-settings_add_open")
    _type(page, add.get_by_label("Name", exact=True), "bad-one")
    _type(page, add.get_by_label("API key variable (its NAME, e.g. OPENAI_API_KEY)"), "sk-live-abc/def")
    add.get_by_role("button", name="Add endpoint").click()
    wait_idle(page)
    expect(page.get_by_text("NAME of an environment variable").first).to_be_visible()
    expect(add.get_by_label("Name", exact=True)).to_be_visible()  # still open after the error
    _type(page, add.get_by_label("API key variable (its NAME, e.g. OPENAI_API_KEY)"), "BAD_ONE_KEY")
    expect(add.get_by_label("Name", exact=True)).to_be_visible()  # and after the next edit
    expect(add.get_by_label("Name", exact=True)).to_have_value("bad-one")
    shot("add-endpoint-stays-open")
    assert page.dialogs == []
