"""The one flash-message helper: queue a message in a callback or before a rerun, show it on the next draw.

Messages can quote user text (names, file contents, errors), so they are always shown escaped.
"""

from __future__ import annotations

import streamlit as st

from lib.ui import md_escape

KINDS = ("success", "info", "warning", "error")


def _key(page: str) -> str:
    return f"{page}__flash"


def flash(page: str, kind: str, message: object) -> None:
    """Queue a message for `page` ('prompts', 'settings', 'cmp', 'hist', ...), shown on its next draw."""
    st.session_state.setdefault(_key(page), []).append((kind if kind in KINDS else "info", str(message)))


def show_flashes(page: str, *, toast: bool = False) -> None:
    """Draw and forget the queued messages of `page` (as boxes, or as toasts when the page is busy)."""
    for kind, message in st.session_state.pop(_key(page), []):
        if toast:
            st.toast(md_escape(message), icon=":material/error:" if kind == "error" else None)
        else:
            getattr(st, kind)(md_escape(message))
