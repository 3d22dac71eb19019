"""Settings page, part 2: the price table (bundled genai-prices data and editable overrides)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib import db
from lib.client import delete_override, list_prices, set_override
from lib.errors import WorkbenchError
from lib.ui import md_escape
from pages._views.auth import actor
from pages._views.flash import flash

ss = st.session_state
MAX_ROWS = 300


def _num(key: str) -> float | None:
    v = ss.get(key)
    return None if v in (None, "") else float(v)


def _save_override() -> None:
    try:
        with db.session_scope() as session:
            set_override(actor=actor(), session=session, model=(ss.get("settings_price_model") or "").strip(),
                                 provider=(ss.get("settings_price_provider") or "").strip(),
                                 input_per_mtok=_num("settings_price_in"), output_per_mtok=_num("settings_price_out"),
                                 cached_per_mtok=_num("settings_price_cached"),
                                 source=(ss.get("settings_price_source") or "").strip() or "manual",
                                 effective_date=ss.get("settings_price_date"))
    except (WorkbenchError, ValueError) as exc:
        flash("settings", "error", str(exc))
        return
    flash("settings", "success", f"Saved the price of {ss.get('settings_price_model')}.")


def _delete_override() -> None:
    choice = ss.get("settings_price_delete")
    if not choice:
        return
    provider, _, model = choice.partition(" / ")
    with db.session_scope() as session:
        delete_override(actor=actor(), session=session, model=model, provider="" if provider == "(any)" else provider)
    flash("settings", "success", f"Removed the override of {model}.")


def render_prices() -> None:
    """Overrides (editable), then the bundled table filtered by a search."""
    st.header("Prices")
    with db.session_scope() as session:
        overrides = list_prices(session=session)
    st.caption("USD per 1M tokens. An override replaces the bundled price for a model (on one endpoint, or on "
               "every endpoint when the provider is empty). An unknown price shows as unknown, never as 0.")
    if overrides:
        st.dataframe(pd.DataFrame(overrides).drop(columns=["override"], errors="ignore"), hide_index=True,
                     width="stretch")
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.selectbox("Override to remove", [f"{r['provider'] or '(any)'} / {r['model']}" for r in overrides],
                     key="settings_price_delete")
        c2.button("Remove override", key="settings_price_remove", on_click=_delete_override, width="stretch")
    else:
        st.caption("No overrides yet.")
    with st.expander("Add or change an override", icon=":material/edit:"):
        c1, c2, c3 = st.columns(3)
        c1.text_input("Provider / endpoint (empty = any)", key="settings_price_provider")
        c2.text_input("Model", key="settings_price_model", placeholder="gpt-4o-mini")
        c3.text_input("Source", key="settings_price_source", placeholder="invoice 2026-11, vendor page...")
        c1.number_input("Input $/1M", min_value=0.0, value=None, step=0.05, format="%.4f", key="settings_price_in")
        c2.number_input("Output $/1M", min_value=0.0, value=None, step=0.05, format="%.4f", key="settings_price_out")
        c3.number_input("Cached input $/1M", min_value=0.0, value=None, step=0.05, format="%.4f",
                        key="settings_price_cached")
        st.date_input("Effective from", key="settings_price_date", value="today")
        st.button("Save price", key="settings_price_save", on_click=_save_override, type="primary")
    q = st.text_input("Search bundled prices", key="settings_price_q", placeholder="e.g. gpt-4o, claude")
    if q.strip():
        with db.session_scope() as session:
            rows = [r for r in list_prices(session=session, include_bundled=True, search=q.strip())
                    if not r.get("override")]
        st.caption(md_escape(f"{len(rows)} bundled prices match (genai-prices)")
                   + (f"; showing the first {MAX_ROWS}" if len(rows) > MAX_ROWS else ""))
        if rows:
            st.dataframe(pd.DataFrame(rows[:MAX_ROWS]).drop(columns=["override"], errors="ignore"),
                         hide_index=True, width="stretch")
