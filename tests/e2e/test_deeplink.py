"""A permalink opened as the very first request after the server starts gets the full app.

With a folder named pages/, Streamlit runs a deep-linked page script alone until app.py has
called st.navigation once; pages/_views/boot.py hands over to app.py and back.
"""

from __future__ import annotations

from lib import prompts
from lib.db import session_scope
from tests.actors import ADMIN
from tests.e2e.conftest import run_streamlit, wait_idle


def test_first_request_is_a_permalink(browser, tmp_path, sqlite_template):
    import shutil

    db_path = tmp_path / "workbench.db"
    shutil.copy(sqlite_template, db_path)
    with run_streamlit(tmp_path, f"sqlite:///{db_path}", WORKBENCH_START_WORKER="0") as app:
        with session_scope(app.engine()) as s:
            prompts.create_prompt(actor=ADMIN, session=s, name="deep-linked", messages=[{"role": "user",
                                  "content": "hi"}])
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        try:
            page.goto(f"{app.url}/prompts?prompt=deep-linked", timeout=60_000)
            nav = page.locator("[data-testid=stSidebarNav]")
            # app.py's navigation has sections; legacy folder discovery has none and lists helper modules
            nav.get_by_text("Workspace", exact=True).wait_for(timeout=60_000)
            page.wait_for_url("**/prompts?prompt=deep-linked", timeout=20_000)
            wait_idle(page, 60_000)
            assert nav.get_by_text("prompt editor", exact=True).count() == 0
            page.get_by_role("heading", name="deep-linked").first.wait_for(timeout=20_000)
        finally:
            context.close()
