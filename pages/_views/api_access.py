"""Settings page, part 3 (admins): API tokens (create, shown once; list; revoke) and webhooks with their log."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from lib import db
from lib.api import (
    EVENTS,
    add_webhook,
    create_token,
    deliveries,
    list_tokens,
    list_webhooks,
    outbox_summary,
    remove_webhook,
    revoke_token,
)
from lib.errors import WorkbenchError
from lib.identity import SCOPES, TOKEN_WRITE, WEBHOOK_WRITE, Identity
from pages._views.auth import actor
from pages._views.flash import flash

ss = st.session_state


def _actor() -> Identity:
    """Who acts here: the signed-in person, or the single local user without `[auth]`."""
    return actor()


def _create_token() -> None:
    try:
        with db.session_scope() as s:
            token, info = create_token(session=s, actor=_actor(), name=(ss.get("settings_tok_name") or "").strip(),
                                       scope=list(ss.get("settings_tok_scopes") or []),
                                       rpm=int(ss["settings_tok_rpm"]) if ss.get("settings_tok_rpm") else None)
    except (WorkbenchError, ValueError) as exc:
        flash("settings", "error", str(exc))
        return
    ss["settings_tok_shown"] = (info.name, token)  # shown once, on the next draw only
    ss["settings_tok_name"] = ""


def _revoke_token() -> None:
    name = ss.get("settings_tok_revoke")
    if not name:
        return
    try:
        with db.session_scope() as s:
            revoke_token(session=s, actor=_actor(), name=name)
    except WorkbenchError as exc:
        flash("settings", "error", str(exc))
        return
    flash("settings", "success", f"Revoked token {name}.")


def _add_webhook() -> None:
    try:
        with db.session_scope() as s:
            secret, info = add_webhook(session=s, actor=_actor(), url=(ss.get("settings_wh_url") or "").strip(),
                                       events=list(ss.get("settings_wh_events") or []))
    except WorkbenchError as exc:
        flash("settings", "error", str(exc))
        return
    ss["settings_wh_shown"] = (info["url"], secret)
    ss["settings_wh_url"] = ""


def _remove_webhook() -> None:
    wid = ss.get("settings_wh_remove")
    if wid is None:
        return
    try:
        with db.session_scope() as s:
            remove_webhook(session=s, actor=_actor(), webhook_id=int(wid))
    except WorkbenchError as exc:
        flash("settings", "error", str(exc))
        return
    flash("settings", "success", f"Webhook {wid} removed.")


def _tokens() -> None:
    st.header("API tokens")
    st.caption("For the HTTP API (/api/v1, /api/tasks) and the OpenAI-compatible gateway (/v1), on this port. "
               "read: prompts, runs, metrics; run: + model calls; write: + versions and unprotected labels.")
    shown = ss.pop("settings_tok_shown", None)
    if shown:
        st.warning(f"Token {shown[0]}: copy it now, it is not shown again.")
        st.code(shown[1], language=None)
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    c1.text_input("Name", key="settings_tok_name", placeholder="deploy-bot")
    c2.multiselect("Scopes", SCOPES, default=["read"], key="settings_tok_scopes")
    c3.number_input("rpm", min_value=0, value=0, step=60, key="settings_tok_rpm", help="0 = the default (600)")
    c4.button("Create token", key="settings_tok_create", on_click=_create_token, icon=":material/key:")
    with db.session_scope() as s:
        rows = [dataclasses.asdict(t) for t in list_tokens(session=s)]
    if rows:
        df = pd.DataFrame(rows)
        df["scopes"] = df["scopes"].map(", ".join)
        st.dataframe(df, hide_index=True, width="stretch")
        live = [r["name"] for r in rows if not r["revoked"]]
        if live:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            c1.selectbox("Revoke", live, key="settings_tok_revoke")
            c2.button("Revoke token", key="settings_tok_revoke_btn", on_click=_revoke_token)
    else:
        st.caption("No tokens yet.")


def _webhooks() -> None:
    st.header("Webhooks")
    st.caption("Label moves and new versions are POSTed as JSON, signed with HMAC-SHA256 of the body in "
               "X-Workbench-Signature (sha256=...), retried with backoff; every attempt is logged below.")
    shown = ss.pop("settings_wh_shown", None)
    if shown:
        st.warning(f"Signing secret for {shown[0]}: copy it now, it is not shown again.")
        st.code(shown[1], language=None)
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    c1.text_input("URL", key="settings_wh_url", placeholder="https://example.org/workbench-hook")
    c2.multiselect("Events", EVENTS, default=list(EVENTS), key="settings_wh_events")
    c3.button("Add webhook", key="settings_wh_add", on_click=_add_webhook, icon=":material/webhook:")
    with db.session_scope() as s:
        hooks = list_webhooks(session=s)
        log = deliveries(session=s, limit=50)
        outbox = outbox_summary(session=s)
    if hooks:
        df = pd.DataFrame(hooks)
        df["events"] = df["events"].map(", ".join)
        st.dataframe(df, hide_index=True, width="stretch")
        active = [h["id"] for h in hooks if h["active"]]
        if active:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            c1.selectbox("Remove", active, key="settings_wh_remove",
                         format_func=lambda i: next(f"{h['id']}: {h['url']}" for h in hooks if h["id"] == i))
            c2.button("Remove webhook", key="settings_wh_remove_btn", on_click=_remove_webhook)
        st.caption(f"Delivery log (newest first). Outbox: {outbox['pending']} waiting (first try or a retry), "
                   f"{outbox['delivered']} delivered, {outbox['failed']} given up. Delivery is at least once: "
                   "every try of an event carries the same X-Workbench-Delivery id.")
        if log:
            st.dataframe(pd.DataFrame(log).drop(columns=["id"]), hide_index=True, width="stretch")
        else:
            st.caption("No deliveries yet.")
    else:
        st.caption("No webhooks yet.")


def render_api_access() -> None:
    """The tokens and webhooks sections, for identities allowed to manage them."""
    actor = _actor()
    if actor.can(TOKEN_WRITE):
        _tokens()
    if actor.can(WEBHOOK_WRITE):
        _webhooks()
