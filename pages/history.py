"""History: the run log, one page at a time, with filters and search; a run's full record by ?run=ID."""

from __future__ import annotations

import math
import zlib
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

import pandas as pd
import streamlit as st

from lib import prompts as prompts_lib
from lib import runs as runs_lib
from lib.db import get_engine, session_scope
from lib.errors import WorkbenchError
from lib.ui import md_escape, money, version_label
from pages._views import run_widgets as w
from pages._views.boot import require_app
from pages._views.record import show_record

require_app(__file__)

PAGE_SIZE = 25
ANY = "(any)"
ss = st.session_state
w.persist("hist", exclude=("hist_table", "hist_rerun", "hist_close", "hist_open", "hist_up_", "hist_down_",
                           "hist_sig"))
engine = get_engine()
st.title("History")

raw = st.query_params.get("run")
if raw:
    show_record(engine, raw)
    st.divider()

# ---------------------------------------------------------------- filters
with session_scope(engine) as session:
    names = w.prompt_names(session)
    models = w.model_options(session)
    users = runs_lib.run_users(session=session)
f1, f2, f3, f4 = st.columns(4)
prompt = f1.selectbox("Prompt", [ANY] + names, key="hist_prompt")
version = f2.number_input("Version (0 = any)", min_value=0, step=1, key="hist_version",
                          disabled=prompt == ANY)
model = f3.selectbox("Model", [ANY] + models, key="hist_model", accept_new_options=True)
status = f4.selectbox("Status", [ANY, "ok", "error", "incomplete"], key="hist_status")
g1, g2, g3, g4 = st.columns([1, 1, 2, 1])
source = g1.selectbox("Source", [ANY, "playground", "compare", "batch", "cli", "api", "gateway"], key="hist_source")
user = g4.selectbox("User", [ANY, *users], key="hist_user", help="Who made the call")
# batch jobs make thousands of runs: they are left out unless asked for (or picked as the source)
with_batch = st.toggle("Include batch runs", key="hist_with_batch", value=False, disabled=source == "batch",
                       help="Batch jobs have their own results on the Batch page.")
today = datetime.now(UTC).date()
ss.setdefault("hist_dates", ())
dates = g2.date_input("Dates (UTC)", key="hist_dates", max_value=today + timedelta(days=1))
search = g3.text_input("Search inputs and outputs", key="hist_search", placeholder="words in variables or answers")

filters: dict = {}
if prompt != ANY:
    filters["prompt_name"] = prompt
    if version:
        try:
            with session_scope(engine) as session:
                filters["version_id"] = prompts_lib.get_version(session=session, name=prompt, number=int(version)).id
        except WorkbenchError:
            filters["version_id"] = -1  # no such version: an empty result, said as "0 runs"
if model and model != ANY:
    filters["model"] = model
if status != ANY:
    filters["status"] = status
if source != ANY:
    filters["source"] = source
elif not with_batch:
    filters["exclude_source"] = "batch"
if user != ANY:
    filters["user"] = user
if isinstance(dates, (list, tuple)) and dates:
    start: date = dates[0]
    end: date = dates[1] if len(dates) > 1 else dates[0]
    filters["since"] = datetime.combine(start, dtime.min, tzinfo=UTC)
    filters["until"] = datetime.combine(end + timedelta(days=1), dtime.min, tzinfo=UTC)
if search.strip():
    filters["search"] = search.strip()

# The page number resets when the filters change, so page 7 of an old query never shows empty.
sig = repr(sorted(filters.items()))
if ss.get("hist_sig") != sig:
    ss["hist_sig"] = sig
    ss["hist_page"] = 1
ss.setdefault("hist_page", 1)

try:
    with session_scope(engine) as session:
        rows, total = runs_lib.list_runs(session=session, page=int(ss["hist_page"]), page_size=PAGE_SIZE, **filters)
        data = [{"run": r.id, "time": r.created_at.strftime("%Y-%m-%d %H:%M:%S") if r.created_at else "",
                 "source": r.source, "prompt": version_label(r.prompt_name, r.version_number) if r.prompt_name else "",
                 "model": f"{r.endpoint}/{r.model}", "status": r.status,
                 "latency_ms": r.latency_ms, "cost": money(r.cost_usd),
                 "answer": (r.output or r.error_message or "")[:120]} for r in rows]
except WorkbenchError as exc:
    w.lib_error(exc)
    st.stop()

pages = max(1, math.ceil(total / PAGE_SIZE))
p1, p2 = st.columns([1, 3])
p1.number_input("Page", min_value=1, max_value=pages, step=1, key="hist_page")
runs_label = f"{total:,} run" if total == 1 else f"{total:,} runs"
p2.caption(md_escape(f"{runs_label} · page {min(int(ss['hist_page']), pages)} of {pages:,} · {PAGE_SIZE} per page"))
if filters.get("exclude_source") == "batch":
    with session_scope(engine) as session:
        hidden = runs_lib.list_runs(session=session, page_size=1, source="batch",
                                    **{k: v for k, v in filters.items() if k != "exclude_source"})[1]
    if hidden:
        st.caption(f"{hidden:,} batch run{'s' if hidden != 1 else ''} hidden: turn on 'Include batch runs' "
                   "to list them.")
if not data:
    st.info("No runs match these filters." if total == 0 else "This page is empty.")
else:
    st.caption("Select a row to open its full record.")
    # The table's key follows the runs it shows: a selection is a row index, so when the rows change (other
    # filters, another page, new runs arriving) an old selection must not point at another run, or past the end.
    shown = zlib.crc32(",".join(str(r["run"]) for r in data).encode())
    event = st.dataframe(
        pd.DataFrame(data), hide_index=True, key=f"hist_table_{shown:08x}", on_select="rerun",
        selection_mode="single-row",
        column_config={"run": st.column_config.NumberColumn("Run", format="%d"),
                       "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="%.0f"),
                       "cost": st.column_config.TextColumn("Cost"),
                       "answer": st.column_config.TextColumn("Answer (start)", width="large")})
    picked = getattr(getattr(event, "selection", None), "rows", None) or []
    if picked and 0 <= picked[0] < len(data):
        chosen = data[picked[0]]["run"]
        if str(chosen) != raw:
            st.query_params["run"] = str(chosen)
            st.rerun()
o1, o2 = st.columns([1, 3])
open_id = o1.number_input("Open run #", min_value=0, step=1, key="hist_open_id")
if o2.button("Open", key="hist_open") and open_id:
    st.query_params["run"] = str(int(open_id))
    st.rerun()
