"""Keep every page inside app.py's navigation.

Because the pages live in a folder named ``pages/``, Streamlit falls back to its legacy
folder discovery until ``st.navigation`` has been called once in the process.  So the very
first request after a start, if it is a deep link (``/history?run=5``), would run the page
script alone: no bootstrap, no sidebar.  ``require_app(__file__)`` at the top of a page
notices that, remembers the page and its query parameters, and hands over to app.py, which
registers the navigation and switches back to the page with the same parameters.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from pages._views.auth import auth_configured, signed_in

_state = threading.local()
_KEY = "_boot_deeplink"


def mark_navigation(active: bool) -> None:
    """app.py calls this around ``nav.run()`` (page scripts run in the same thread)."""
    _state.active = active


def require_app(page_file: str) -> None:
    """Hand over to app.py when this page was started by legacy discovery instead of st.navigation."""
    if getattr(_state, "active", False):
        return
    if auth_configured() and not signed_in():
        st.stop()  # outside app.py's navigation (legacy discovery): an anonymous visitor sees nothing
    ctx = get_script_run_ctx()
    main = Path(getattr(ctx, "main_script_path", "") or "")
    if main.name != "app.py" or main.resolve() == Path(page_file).resolve():
        return  # the page itself is the main script (a standalone test): nothing to hand over
    if st.session_state.get(_KEY + "_done"):
        return  # never loop: at most one hand-over per session
    st.session_state[_KEY] = {"page": f"pages/{Path(page_file).name}", "query": st.query_params.to_dict()}
    st.switch_page(main.name)


def resume_deeplink() -> None:
    """In app.py, after st.navigation: go back to the page a deep link asked for."""
    link = st.session_state.pop(_KEY, None)
    if link:
        st.session_state[_KEY + "_done"] = True
        st.switch_page(link["page"], query_params=link["query"] or None)
