"""Prompt Workbench: the Streamlit entry point (page config, shared resources, navigation, sidebar).

Run with `streamlit run app.py`.  Pages live in pages/ and are registered here with
st.Page; files whose names start with "_" are helpers, not pages.  Pages reach the
database with `lib.db.get_engine()`, which returns the engine this file bootstrapped.

This file is read twice: `streamlit run` finds the `st.App` at the bottom and imports the module
(name `app`) to serve it, with the HTTP API (`/api/...`, `/v1/...`, `/health`, from `lib.api`) beside
the pages on the same port; each browser session then runs this file as the script (`__main__`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from lib import bootstrap, db, metrics
from lib.api import api_routes, enable_webhooks
from lib.batch import start_background_worker
from lib.client import list_endpoints
from lib.credentials import has_secret
from lib.identity import AUDIT_READ, Identity
from lib.settings import get_settings
from lib.ui import check_text, latency_text, md_escape, percent
from pages._views import auth, boot
from pages._views.run_widgets import spend_metric

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("workbench.app")
enable_webhooks()  # label moves and new versions from any page or route post their events



@st.cache_resource(show_spinner="Preparing the database...")
def workbench_engine(url: str):
    """The engine for `url`, migrated and seeded once per process."""
    engine = db.get_engine(url)
    bootstrap.startup(engine)
    return engine


@st.cache_resource(show_spinner=False)
def background_worker(url: str):
    """The batch worker thread (started once per process unless WORKBENCH_START_WORKER=0)."""
    if not get_settings().start_worker:
        return None
    return start_background_worker(db.get_engine(url))


@st.cache_data(ttl=15, max_entries=4, show_spinner=False)
def _headline(url: str) -> tuple[dict | None, datetime]:
    """Last-24h headline numbers (shared by every session, not per user) and when they were read."""
    return metrics.headline(engine=db.get_engine(url), hours=24, fresh_s=5), datetime.now(UTC)


def _sidebar(engine) -> None:
    """Database in use, endpoints' health, and the last-24h headline."""
    sb = st.sidebar
    sb.caption("Database")
    sb.code(db.redact_url(engine.url.render_as_string(hide_password=False)), language=None, wrap_lines=True)
    with db.session_scope(engine) as session:
        rows = [(e.name, e.kind, e.api_key_env, e.last_check_ok, e.last_check_kind, e.last_check_at)
                for e in list_endpoints(session=session)]
    lines = []
    for name, kind, key_env, ok, check_kind, at in rows:
        if kind == "echo":
            key = "offline"
        elif not key_env:
            key = "no key"
        else:
            key = "key set" if has_secret(key_env) else f"key {key_env} missing"
        last = "" if ok is None else " · " + check_text(ok, check_kind, at)  # kept in the database
        # a failed last test is never shown as a green check, and an untested endpoint not as a passed one
        if key not in ("offline", "key set", "no key") or ok is False:
            icon = ":material/error:"
        elif ok is None and kind != "echo":
            icon, last = ":material/radio_button_unchecked:", " · not tested"
        else:
            icon = ":material/check_circle:"
        lines.append(f"{icon} **{md_escape(name)}** {md_escape(key + last)}")
    sb.caption("Endpoints")
    sb.markdown("  \n".join(lines) if lines else "No endpoints yet: add one in Settings.")
    head, as_of = _headline(str(engine.url.render_as_string(hide_password=False)))
    if head:  # read at most 15 s ago: say when, so a run made since is not silently missing
        sb.caption(f"Last 24 h, as of {as_of:%H:%M:%S} UTC")
        if not head.get("calls"):  # four "unknown"s do not fit the sidebar's columns (they showed as "unkn…")
            sb.caption("No calls yet: errors, spend and latency appear after the first one.")
            return
        c1, c2 = sb.columns(2)
        c1.metric("Calls", f"{head.get('calls', 0):,}")
        err = head.get("error_rate")
        c2.metric("Errors", percent(err))
        c1, c2 = sb.columns(2)
        c1.metric("p95", latency_text(head.get("p95_latency_ms")), help="95th percentile latency of the last 24 hours")
        # the full width: half the sidebar cut "unknown" and "≥ $0.0123" to "unkn…"
        spend_metric(sb, "Spend", head.get("spend_usd"), head.get("unpriced_calls") or 0, head.get("calls"))


def _pages(ident: Identity) -> dict[str, list]:
    """The navigation: Home, Build, Data, then History and Settings, and Audit for admins (a missing page
    file fails loudly)."""
    def page(path: str, title: str, icon: str, default: bool = False):
        return st.Page(path, title=title, icon=icon, default=default)

    sections = {
        "": [page("pages/home.py", "Home", ":material/home:", default=True)],
        "Build": [page("pages/prompts.py", "Prompts", ":material/edit_note:"),
                  page("pages/playground.py", "Playground", ":material/play_circle:"),
                  page("pages/compare.py", "Compare", ":material/view_column:")],
        "Data": [page("pages/batch.py", "Batch", ":material/table_rows:"),
                 page("pages/metrics.py", "Metrics", ":material/monitoring:")],
        "Workspace": [page("pages/history.py", "History", ":material/history:"),
                      page("pages/settings.py", "Settings", ":material/settings:")],
    }
    if ident.can(AUDIT_READ):
        sections["Workspace"].append(page("pages/audit.py", "Audit", ":material/policy:"))
    return sections


def main() -> None:
    """Bootstrap the shared resources, draw the sidebar and run the selected page."""
    st.set_page_config(page_title="Prompt Workbench", page_icon=":material/edit_note:", layout="wide")
    url = db.normalise_url(get_settings().resolved_database_url())
    try:
        engine = workbench_engine(url)
    except Exception as exc:  # the database is unreachable or a migration failed
        log.exception("start-up failed")
        st.error(f"The workbench could not open its database ({db.redact_url(url)}): "
                 f"{md_escape(type(exc).__name__)}. Check DATABASE_URL and the server, then reload.")
        st.stop()
    background_worker(url)
    if auth.auth_configured() and not auth.signed_in():
        # anonymous with [auth]: the sign-in screen is the only page; nothing else is registered or run
        st.navigation([st.Page(auth.sign_in_page, title="Sign in", icon=":material/login:")], position="hidden").run()
        return
    ident = auth.gate()
    nav = st.navigation(_pages(ident))
    boot.resume_deeplink()
    auth.sidebar_user(ident)
    with st.sidebar:
        try:
            _sidebar(engine)
        except Exception:  # the sidebar is informative only; never block a page on it
            log.exception("sidebar failed")
    boot.mark_navigation(True)
    try:
        nav.run()
    finally:
        boot.mark_navigation(False)


@contextlib.asynccontextmanager
async def _lifespan(_app):
    """Migrate and seed before the API answers its first request (the pages do it too; it is idempotent), then
    deliver the webhook outbox, including what a stopped process left pending."""
    await asyncio.to_thread(bootstrap.startup, db.get_engine())
    enable_webhooks(db.get_engine())
    yield


if __name__ == "__main__":  # a session's script run
    main()
else:  # imported by `streamlit run` (or uvicorn app:app): the pages plus the HTTP API on one port
    app = st.App("app.py", routes=api_routes(), lifespan=_lifespan)
