"""Home: the workspace at a glance (database, prompts, endpoints, recent runs) and quick links."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lib import db
from lib.ui import workspace_summary
from pages._views.boot import require_app

require_app(__file__)

ROOT = Path(__file__).resolve().parent.parent

st.title("Prompt Workbench")
st.caption("Write prompts, try them on models, compare answers, and run them over datasets.")

engine = db.get_engine()
with db.session_scope(engine) as session:
    summary = workspace_summary(session=session, recent=10)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Prompts", f"{summary['prompts']:,}")
c2.metric("Endpoints", f"{summary['endpoints']:,}")
c3.metric("Runs (24 h)", f"{summary['runs_24h']:,}")
c4.metric("Database", engine.dialect.name)

st.subheader("Quick links")
links = st.columns(4)
for col, (path, label, icon) in zip(links, [
        ("pages/prompts.py", "Edit prompts", ":material/edit_note:"),
        ("pages/playground.py", "Open the playground", ":material/play_circle:"),
        ("pages/compare.py", "Compare models", ":material/view_column:"),
        ("pages/history.py", "Browse history", ":material/history:")], strict=True):
    col.page_link(path, label=label, icon=icon)

st.subheader("Recent runs")
if summary["recent_runs"]:
    st.dataframe(pd.DataFrame(summary["recent_runs"]), hide_index=True, width="stretch",
                 column_config={"time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm:ss"),
                                "latency_ms": st.column_config.NumberColumn("latency ms", format="%.0f"),
                                "cost_usd": st.column_config.NumberColumn("cost $", format="%.5f")})
else:
    st.info("No runs yet. Open a prompt in the Playground and press Run (the offline echo endpoint needs no key).")
