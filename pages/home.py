"""Home: the workspace at a glance (database, prompts, endpoints, recent runs) and quick links."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lib import db, prompts
from lib.identity import local_user
from lib.ui import latency_text, md_escape, money, text_or_dash, workspace_summary
from pages._views.auth import actor, auth_configured
from pages._views.boot import require_app

require_app(__file__)

ROOT = Path(__file__).resolve().parent.parent

st.title("Prompt Workbench")
st.caption("Write prompts, try them on models, compare answers, and run them over datasets.")
if auth_configured():
    me = actor()
    st.caption(f"Signed in as {md_escape(me.email)} ({me.role}).")
else:
    st.info(f"Single-user mode: no sign-in is configured, so the workbench listens on 127.0.0.1 only and "
            f"whoever reaches it acts as **{md_escape(local_user().label)}** (admin). To serve a team, add an "
            "`[auth]` section to `.streamlit/secrets.toml` (README, *Serving a team*).", icon=":material/person:")

engine = db.get_engine()
with db.session_scope(engine) as session:
    summary = workspace_summary(session=session, recent=10)

EXAMPLE = "support-reply"


def _try_example() -> None:
    """Open the Playground on the example support prompt (its working state is the person's own)."""
    st.session_state.update(play_source="Saved prompt", play_prompt=EXAMPLE)


c1, c2, c3 = st.columns(3)
c1.metric("Prompts", f"{summary['prompts']:,}")
c2.metric("Endpoints", f"{summary['endpoints']:,}")
c3.metric("Runs (24 h)", f"{summary['runs_24h']:,}")
st.caption(md_escape(f"Data in {engine.dialect.name} · the offline echo endpoint answers with what it was sent, "
                     "so everything works without a key."))

with db.session_scope(engine) as session:
    has_example = prompts.prompt_exists(session=session, name=EXAMPLE)
if has_example:
    st.info("Example prompts and datasets are ready to use (support replies, summaries, ticket datasets): "
            "start with one, or create your own on the Prompts page.", icon=":material/lightbulb:")
    if st.button("Try the example support prompt", type="primary", key="home_try_example",
                 icon=":material/play_arrow:", on_click=_try_example):
        st.switch_page("pages/playground.py")

st.subheader("Quick links")
links = st.columns(4)
for i, (path, label, icon) in enumerate([
        ("pages/prompts.py", "Edit prompts", ":material/edit_note:"),
        ("pages/playground.py", "Open the playground", ":material/play_circle:"),
        ("pages/compare.py", "Compare models", ":material/view_column:"),
        ("pages/batch.py", "Run a batch on a dataset", ":material/table_rows:"),
        ("pages/metrics.py", "See metrics", ":material/monitoring:"),
        ("pages/history.py", "Browse history", ":material/history:"),
        ("pages/settings.py", "Endpoints and settings", ":material/settings:")]):
    links[i % 4].page_link(path, label=label, icon=icon)

st.subheader("Recent runs")
if summary["recent_runs"]:
    rows = [{"id": r["id"], "time": r["time"], "source": r["source"], "prompt": text_or_dash(r["prompt"]) or "ad-hoc",
             "model": r["model"], "status": r["status"], "latency": latency_text(r["latency_ms"]),
             "cost": money(r["cost_usd"])} for r in summary["recent_runs"]]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm:ss")})
else:
    st.info("No runs yet. Open a prompt in the Playground and press Run (the offline echo endpoint needs no key).")
