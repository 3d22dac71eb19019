"""History page: one run's full record, its rating and re-running it with the same settings."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lib import runs as runs_lib
from lib.client import get_client
from lib.db import session_scope
from lib.errors import NotFoundError, WorkbenchError
from lib.models import PromptVersion
from lib.ui import md_escape, version_label
from pages._views import run_widgets as w
from pages._views.auth import actor
from pages._views.dataset_edit import add_to_dataset
from pages._views.flash import flash, show_flashes

ss = st.session_state


def _rerun(engine: Any, run: Any) -> None:
    """Call the same model with the same version/variables (or messages) and parameters; open the new run."""
    version = None
    if run.version_id:
        with session_scope(engine) as session:
            version = session.get(PromptVersion, run.version_id)
            if version is not None:
                session.expunge(version)
    kwargs: dict = {"model": f"{run.endpoint}/{run.model}", "params": dict(run.params or {}),
                    "source": "playground"}
    if version is not None:
        kwargs.update(version=version, variables=dict(run.variables or {}))
    else:
        kwargs.update(messages=list(run.messages or []))
    try:
        with st.spinner("Running again..."):
            result = get_client(engine).generate_sync(actor=actor(), **kwargs)
    except WorkbenchError as exc:
        flash("hist", "error", f"Could not re-run: {exc}")
        return
    if result.run_id:
        flash("hist", "info", f"Re-ran run #{run.id} as run #{result.run_id} ({result.status}).")
        st.query_params["run"] = str(result.run_id)
    st.rerun()


def _rate(run_id: int, rating: int | None) -> None:
    try:
        with session_scope() as session:
            runs_lib.rate_run(actor=actor(), session=session, run_id=run_id, rating=rating,
                              note=ss.get(f"hist_note_{run_id}", ""))
        flash("hist", "success", f"Saved the rating of run #{run_id}.")
    except WorkbenchError as exc:
        flash("hist", "error", f"Could not save the rating: {exc}")


def show_record(engine: Any, raw: str) -> None:
    """Everything about one run: answer, metrics, rendered messages, parameters, usage, error, attempts."""
    try:
        with session_scope(engine) as session:
            run = runs_lib.get_run(session=session, run_id=int(raw))
            session.expunge(run)
    except ValueError:
        st.error(md_escape(f"?run={raw!r} is not a run number."))
        return
    except NotFoundError:
        st.error(md_escape(f"There is no run #{raw}."))
        return
    show_flashes("hist")
    head = f"Run #{run.id} · {run.status} · {run.source} · " \
           f"{run.created_at:%Y-%m-%d %H:%M:%S} UTC" if run.created_at else f"Run #{run.id}"
    st.subheader(md_escape(head))
    what = version_label(run.prompt_name, run.version_number) if run.prompt_name else "ad-hoc messages"
    st.caption(md_escape(f"{what} · {run.endpoint}/{run.model}"
                         + (f" · comparison {run.compare_id}" if run.compare_id else "")
                         + (f" · batch job {run.batch_job_id}" if run.batch_job_id else "")))
    b1, b2, b3 = st.columns(3)
    if b1.button("Re-run with the same settings", key="hist_rerun", icon=":material/replay:"):
        _rerun(engine, run)
    b2.page_link("pages/playground.py", label="Open in the Playground", icon=":material/play_circle:",
                 query_params={"run": str(run.id)})
    if b3.button("Close", key="hist_close"):
        del st.query_params["run"]
        st.rerun()
    w.show_error(run)
    st.markdown("**Answer**")
    w.show_output(run)
    w.show_metrics(run)
    r1, r2, r3 = st.columns([1, 1, 3])
    r1.button("Good", key=f"hist_up_{run.id}", on_click=_rate, args=(run.id, 1), icon=":material/thumb_up:",
              type="primary" if run.rating == 1 else "secondary")
    r2.button("Bad", key=f"hist_down_{run.id}", on_click=_rate, args=(run.id, -1), icon=":material/thumb_down:",
              type="primary" if run.rating == -1 else "secondary")
    ss.setdefault(f"hist_note_{run.id}", run.note or "")
    r3.text_input("Note", key=f"hist_note_{run.id}", placeholder="saved with the rating")
    if run.variables:
        add_to_dataset(engine, key=f"hist_add_{run.id}", variables=dict(run.variables), answer=run.output)
    t1, t2 = st.tabs(["Rendered messages", "Parameters, variables and usage"])
    with t1:
        w.show_messages(run.messages)
    with t2:
        st.markdown("**Parameters**")
        st.json(run.params or {})
        st.markdown("**Variables**")
        st.json(run.variables or {})
        st.markdown("**Raw usage** (as the provider reported it)")
        st.json(run.usage_raw or {})
        st.markdown("**Call details**")
        st.json({"attempts": run.attempts, "http_status": run.http_status, "request_id": run.request_id,
                 "finish_reason": run.finish_reason, "error_kind": run.error_kind,
                 "error_message": run.error_message, "cache_hit": run.cache_hit,
                 "usage_estimated": run.usage_estimated, "ttft_ms": run.ttft_ms, "latency_ms": run.latency_ms})
