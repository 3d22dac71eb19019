"""Settings: endpoints (add, edit, test), the price table, database info, reset example data."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from lib import bootstrap, db
from lib.client import (
    KINDS,
    add_endpoint,
    delete_endpoint,
    get_endpoint,
    health,
    list_endpoints,
    record_check,
    update_endpoint,
)
from lib.credentials import has_secret
from lib.errors import WorkbenchError
from lib.identity import ENDPOINT_WRITE, PRICE_WRITE, PROMPT_WRITE
from lib.ui import check_text, md_escape, when_utc
from pages._views.auth import actor, render_people
from pages._views.boot import require_app
from pages._views.flash import flash, show_flashes

require_app(__file__)

ss = st.session_state
ss.setdefault("settings_health", {})


def _note(kind: str, message: str) -> None:
    flash("settings", kind, message)


def _int_or_none(value) -> int | None:
    return int(value) if value not in (None, "", 0) else None


def _models(text: str) -> list[str]:
    return [m.strip() for m in (text or "").replace("\n", ",").split(",") if m.strip()]


def _add_endpoint() -> None:
    try:
        with db.session_scope() as session:
            add_endpoint(actor=actor(),
                session=session, name=(ss.get("settings_new_name") or "").strip(), kind=ss.get("settings_new_kind"),
                base_url=(ss.get("settings_new_url") or "").strip(),
                api_key_env=(ss.get("settings_new_key") or "").strip() or None,
                models=_models(ss.get("settings_new_models", "")), rpm=_int_or_none(ss.get("settings_new_rpm")),
                max_concurrency=int(ss.get("settings_new_conc") or 8),
                timeout_s=float(ss.get("settings_new_timeout") or 60),
                rebind_key=bool(ss.get("settings_new_rebind")))
    except WorkbenchError as exc:
        _note("error", str(exc))
        return
    _note("success", f"Added endpoint {ss.get('settings_new_name')}.")
    ss["settings_new_name"] = ""


def _save_endpoint(name: str) -> None:
    p = f"settings_ep_{name}_"
    changes = {"base_url": (ss.get(p + "url") or "").strip(), "models": _models(ss.get(p + "models", "")),
               "rpm": _int_or_none(ss.get(p + "rpm")), "max_concurrency": int(ss.get(p + "conc") or 8),
               "timeout_s": float(ss.get(p + "timeout") or 60)}
    key_env = (ss.get(p + "key") or "").strip() or None
    try:
        with db.session_scope() as session:
            row = get_endpoint(session=session, name=name)
            # The key name is only re-sent when it changed or the user confirms it may go to a new host:
            # lib.endpoints refuses a host change otherwise, so a key never follows a URL edit by accident.
            if key_env != row.api_key_env or ss.get(p + "rekey"):
                changes["api_key_env"] = key_env
            update_endpoint(actor=actor(), session=session, name=name, **changes)
    except WorkbenchError as exc:
        _note("error", str(exc))
        return
    _note("success", f"Saved endpoint {name}.")


def _delete_endpoint(name: str) -> None:
    if not ss.get(f"settings_ep_{name}_confirm"):
        _note("warning", "Tick 'I am sure' to delete the endpoint.")
        return
    try:
        with db.session_scope() as session:
            delete_endpoint(actor=actor(), session=session, name=name)
    except WorkbenchError as exc:
        _note("error", str(exc))
        return
    ss["settings_health"].pop(name, None)
    _note("success", f"Deleted endpoint {name}.")


def _test_endpoint(name: str) -> None:
    """Test the endpoint and keep the result on its row (a reload, another page or person sees it)."""
    try:
        result = health(name, db.get_engine(), timeout_s=10.0)
    except WorkbenchError as exc:
        result = {"ok": False, "error": str(exc), "error_kind": exc.kind}
    result = dict(result or {}, at=datetime.now(UTC))
    try:
        with db.session_scope() as session:
            record_check(actor=actor(), session=session, name=name, result=result)
    except WorkbenchError as exc:
        _note("error", str(exc))
        return
    ss["settings_health"][name] = True  # open its panel on this screen


def _endpoint_panel(e) -> None:
    p = f"settings_ep_{e.name}_"
    for field, value in (("url", e.base_url or ""), ("key", e.api_key_env or ""),
                         ("models", ", ".join(e.models or [])), ("rpm", e.rpm or 0),
                         ("conc", e.max_concurrency or 8), ("timeout", float(e.timeout_s or 60))):
        ss.setdefault(p + field, value)
    c1, c2 = st.columns(2)
    c1.text_input("Base URL", key=p + "url", disabled=e.kind == "echo")
    c2.text_input("API key variable (its NAME, not the key)", key=p + "key", disabled=e.kind == "echo")
    st.text_input("Models (comma-separated; used when the endpoint cannot list them)", key=p + "models")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Requests / minute (0 = no limit)", min_value=0, step=10, key=p + "rpm")
    # The bounds stretch to the saved values (the CLI allows any positive number): a value outside them is
    # drawn clamped, and Save would then silently write the clamped number over the saved one.
    conc, timeout = int(e.max_concurrency or 8), float(e.timeout_s or 60)
    c2.number_input("Max concurrency", min_value=1, max_value=max(512, conc), step=1, key=p + "conc")
    c3.number_input("Timeout (s)", min_value=min(1.0, timeout), max_value=max(3600.0, timeout), step=5.0,
                    key=p + "timeout")
    if e.kind != "echo" and e.api_key_env:
        st.checkbox(f"Allow the key {e.api_key_env} to be sent to a new host when the base URL changes",
                    key=p + "rekey")
    b1, b2, b3, b4 = st.columns(4, vertical_alignment="bottom")
    b1.button("Save", key=p + "save", on_click=_save_endpoint, args=(e.name,), type="primary", width="stretch")
    b2.button("Test", key=p + "test", on_click=_test_endpoint, args=(e.name,), icon=":material/network_check:",
              width="stretch")
    b3.checkbox("I am sure", key=p + "confirm")
    b4.button("Delete", key=p + "delete", on_click=_delete_endpoint, args=(e.name,), icon=":material/delete:",
              width="stretch")
    if e.last_check_ok:
        models = e.last_check_models or []
        latency = e.last_check_latency_ms
        st.success(md_escape(f"Reachable at {when_utc(e.last_check_at)}"
                             + (f" in {latency:.0f} ms" if latency else "")
                             + (f"; {len(models)} models: {', '.join(map(str, models[:20]))}" if models else "")))
    elif e.last_check_ok is not None:
        why = e.last_check_message or e.last_check_kind or "failed"  # the message starts with its kind
        st.error(md_escape(f"Test failed at {when_utc(e.last_check_at)}: {why}"))


st.title("Settings")
show_flashes("settings")

me = actor()
if me.can(ENDPOINT_WRITE):
    st.header("Endpoints")
    with db.session_scope() as session:
        rows = list_endpoints(session=session)


    def _key_state(e) -> str:
        if e.kind == "echo":
            return "not needed (offline)"
        if not e.api_key_env:
            return "none configured"
        return f"{e.api_key_env}: present" if has_secret(e.api_key_env) else f"{e.api_key_env}: MISSING"


    st.dataframe(pd.DataFrame([{"name": e.name, "kind": e.kind, "base URL": e.base_url, "key": _key_state(e),
                                "models": ", ".join(e.models or []),
                                "rpm": f"{e.rpm:,}" if e.rpm else "no limit", "concurrency": e.max_concurrency,
                                "timeout s": e.timeout_s,
                                "last test": check_text(e.last_check_ok, e.last_check_kind, e.last_check_at)}
                               for e in rows]),
                 hide_index=True, width="stretch")
    for e in rows:
        with st.expander(f"{md_escape(e.name)} ({e.kind})", expanded=e.name in ss["settings_health"]):
            _endpoint_panel(e)

    with st.expander("Add an endpoint", icon=":material/add:", key="settings_add_open", on_change="rerun"):
        c1, c2 = st.columns(2)
        c1.text_input("Name", key="settings_new_name", placeholder="e.g. local-vllm")
        c2.selectbox("Kind", KINDS, key="settings_new_kind")
        c1.text_input("Base URL", key="settings_new_url", placeholder="https://api.openai.com/v1")
        c2.text_input("API key variable (its NAME, e.g. OPENAI_API_KEY)", key="settings_new_key")
        st.text_input("Models (comma-separated)", key="settings_new_models")
        c1, c2, c3 = st.columns(3)
        c1.number_input("Requests / minute (0 = no limit)", min_value=0, step=10, key="settings_new_rpm")
        c2.number_input("Max concurrency", min_value=1, max_value=512, value=8, key="settings_new_conc")
        c3.number_input("Timeout (s)", min_value=1.0, max_value=3600.0, value=60.0, key="settings_new_timeout")
        st.checkbox("Allow this key to be sent to this host even if it is bound to another one",
                    key="settings_new_rebind")
        st.button("Add endpoint", key="settings_add", on_click=_add_endpoint, type="primary")
        st.caption("Keys are never stored: put the key in the environment or .streamlit/secrets.toml under the "
                   "name you give here.")
else:
    st.header("Endpoints")
    st.info("Endpoints, keys and prices are managed by admins.", icon=":material/lock:")

from pages._views.prices import render_prices  # noqa: E402  (kept in its own file for size)

if me.can(PRICE_WRITE):
    render_prices()

from pages._views.api_access import render_api_access  # noqa: E402  (kept in its own file for size)

render_api_access()

st.header("Database")
info = db.database_info(db.get_engine())
c1, c2, c3 = st.columns(3)
c1.metric("Backend", info["dialect"])
size = info.get("size_bytes")
c2.metric("Size", "-" if size is None else f"{size / 1e6:,.1f} MB")
head = db.head_revision()
c3.metric("Migration", info.get("revision") or "none",
          delta=None if info.get("revision") == head else f"head is {head}", delta_color="off")
st.code(info["url"], language=None)

render_people(me)

st.header("Example data")
c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
sure = c1.checkbox("I am sure", key="settings_reset_confirm", disabled=not me.can(PROMPT_WRITE))
if c2.button("Reset example prompts", key="settings_reset", disabled=not sure or not me.can(PROMPT_WRITE),
             icon=":material/restart_alt:"):
    try:
        names = bootstrap.reset_examples(db.get_engine(), actor=actor())
    except WorkbenchError as exc:
        st.error(md_escape(str(exc)))
    else:
        st.success(md_escape(f"Restored {len(names)} example prompts: {', '.join(names)}"))
st.caption("Restores the bundled example prompts to their original versions; your own prompts are untouched.")
