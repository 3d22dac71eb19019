"""Widgets of the Batch page: dataset summary, lint, preview, preflight, job progress and results."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lib import batch, datasets, prompts
from lib.batch import matrix, records, results, version_labels
from lib.compare import compare_versions
from lib.datasets import MIME, to_bytes
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.identity import BATCH_WRITE, RUN
from lib.ui import latency_text, md_escape, money, rate_per_s, score, text_or_dash
from pages._views.auth import actor
from pages._views.batch_grid import grid_section, verdict_text
from pages._views.run_widgets import spend_metric
from pages._views.version_figures import evaluators_table, figures_table

LINT_ROWS = 2000
PAGE_SIZE = 25
ANY = "(any)"
ss = st.session_state


def dataset_summary(engine: Any, dataset_id: int | None) -> dict | None:
    """Rows, columns, warnings and the first rows of the dataset; None when there is none."""
    if dataset_id is None:
        return None
    try:
        with session_scope(engine) as s:
            ds = datasets.get_dataset(session=s, ref=int(dataset_id))
            head = [dict(r.data) for r in datasets.get_rows(session=s, dataset_id=ds.id, limit=5)]
            info = {"id": ds.id, "name": ds.name, "columns": list(ds.columns), "row_count": ds.row_count,
                    "warnings": list(ds.warnings or []), "encoding": ds.encoding, "format": ds.format}
    except WorkbenchError:
        ss.batch_dataset_id = None
        return None
    st.success(md_escape(f"Dataset {info['name']}: {info['row_count']} rows, columns "
                         f"{', '.join(info['columns'])} ({info['format']}, {info['encoding']})"))
    for w in info["warnings"]:
        st.warning(md_escape(w))
    st.dataframe(pd.DataFrame(head, dtype=str), hide_index=True, width="stretch")
    return info


def combo_matrix(versions: list[str], models: list[str]) -> pd.DataFrame:
    """Versions (rows) x models (columns): every cell is one call per dataset row."""
    return pd.DataFrame([["✓"] * len(models) for _ in versions], index=versions, columns=models)


def load_versions(session: Any, version_ids: list[int]) -> list[Any]:
    """The chosen versions, detached, in the chosen order."""
    return [prompts.get_version_by_id(session=session, version_id=v) for v in version_ids]


def show_lint(issues: list, scanned: int, total: int) -> None:
    """Lint issues as errors / warnings; an all-clear line otherwise."""
    # one box per level, one line per message (eight stacked alerts read as noise)
    for level, box in (("error", st.error), ("warning", st.warning), ("info", st.info)):
        lines = [f"- {md_escape(i.message)}" for i in issues if (i.level if i.level in ("error", "warning")
                                                                   else "info") == level]
        if lines:
            box(f"**{len(lines)} {level}{'s' if len(lines) != 1 else ''}**\n" + "\n".join(lines))
    if not issues:
        st.caption(f"Lint: no problem found in {scanned} of {total} rows.")
    elif scanned < total:
        st.caption(f"Lint looked at the first {scanned} of {total} rows.")


def show_preview(items: list) -> None:
    """Rendered messages of the first rows (as plain text, never HTML)."""
    for it in items:
        st.caption(f"Row {it.row_idx}")
        if it.error:
            st.error(md_escape(it.error))
        else:
            st.code("\n".join(f"[{m['role']}] {m['content']}" for m in it.messages or []), language=None,
                    wrap_lines=True)


def show_preflight(pf: dict) -> None:
    """Calls, tokens, cost (unknown said so) and time, in total and per model."""
    c = st.columns(4)
    c[0].metric("Calls", f"{pf['calls']:,}")
    c[1].metric("Tokens (est.)", f"{pf['input_tokens']:,} in / {pf['output_tokens']:,} out")
    c[2].metric("Cost (est.)", money(pf["cost_usd"]))
    c[3].metric("Time (est.)", f"{pf['wall_s']:,.0f} s")
    st.dataframe(pd.DataFrame([{"model": m["model"], "calls": m["calls"], "input tokens": m["input_tokens"],
                                "output tokens": m["output_tokens"], "output from": m["output_tokens_source"],
                                "cost": money(m["cost_usd"]), "calls/s": m["calls_per_s"], "time s": m["wall_s"]}
                               for m in pf["per_model"]]), hide_index=True, width="stretch")
    for n in pf["notes"]:
        st.warning(md_escape(n))


# ---------------------------------------------------------------- job panel

def job_section(engine: Any) -> None:
    """Pick a job; its live progress, controls, pass rates, results and downloads."""
    st.divider()
    st.subheader("Jobs")
    with session_scope(engine) as s:
        rows = batch.list_jobs(session=s, limit=50)
        titles = batch.job_titles(session=s, jobs=rows)  # date, versions, models, evaluators, status
    if not rows:
        st.caption("No job yet.")
        return
    labels = {titles[j.id]: j.id for j in rows}
    ids = list(labels.values())
    idx = ids.index(ss.batch_job_id) if ss.get("batch_job_id") in ids else 0
    job_id = labels[st.selectbox("Job", list(labels), index=idx, key=f"batch_job_pick_{ids[0]}")]
    ss.batch_job_id = job_id
    with session_scope(engine) as s:
        status = batch.get_job(session=s, job_id=job_id).status
    _progress_fragment(engine, job_id, status)
    _results(engine, job_id)


def _progress_fragment(engine: Any, job_id: int, status: str) -> None:
    active = status in ("pending", "running")

    @st.fragment(run_every=1.5 if active else None)
    def panel() -> None:
        with session_scope(engine) as s:
            p = batch.progress(session=s, job_id=job_id)
        total = max(p["total"], 1)
        st.progress(min(p["finished"] / total, 1.0), text=f"{p['finished']:,} of {p['total']:,} finished")
        c = st.columns(6)
        c[0].metric("Status", p["status_label"])
        c[1].metric("Done", f"{p['counts']['done']:,}")
        c[2].metric("Errors", f"{p['errors']:,}")
        c[3].metric("Rate", rate_per_s(p["rate_per_s"]), help="Items per second over the job's active time")
        spend_metric(c[4], "Spend", p["spent_usd"], p["unpriced_calls"], p["finished"],
                     suffix=f" / {money(p['budget_usd'])}" if p["budget_usd"] else "")
        c[5].metric("ETA", "-" if p["eta_s"] is None else f"{p['eta_s']:.0f} s")
        if p["errors"]:
            st.error(md_escape(f"{p['errors']:,} of {p['total']:,} items failed: filter the results by state "
                               "'error' to see why, or retry them."), icon=":material/error:")
        if p["pause_reason"]:
            st.warning(md_escape(p["pause_reason"]))
        resumable = p["status"] in ("paused", "cancelled", "failed")
        over_budget = p["budget_usd"] is not None and (p["spent_usd"] or 0) >= p["budget_usd"]
        new_budget = None
        if resumable and p["budget_usd"] is not None:  # a job paused by its budget resumes only with a higher one
            new_budget = st.number_input("Budget for the rest of the job (USD)", min_value=0.0, step=0.5,
                                         value=float(p["budget_usd"]) * (2 if over_budget else 1),
                                         key=f"batch_new_budget_{job_id}", format="%.4f")
        me = actor()
        off = not (me.can(BATCH_WRITE) and me.can(RUN))  # lib refuses too; the buttons say so first
        if off:
            st.caption(md_escape(f"Only editors and admins control jobs; you are signed in as a {me.role}."))
        b = st.columns(4)
        try:
            if b[0].button("Pause", key="batch_pause", disabled=off or p["status"] not in ("pending", "running")):
                with session_scope(engine) as s:
                    batch.pause(actor=actor(), session=s, job_id=job_id)
                st.rerun(scope="app")
            if b[1].button("Resume", key="batch_resume", disabled=off or not resumable):
                with session_scope(engine) as s:
                    batch.resume(actor=actor(), session=s, job_id=job_id,
                                 budget_usd=float(new_budget) if new_budget is not None else None)
                st.rerun(scope="app")
            if b[2].button("Cancel", key="batch_cancel", disabled=off or p["status"] in ("done", "cancelled")):
                with session_scope(engine) as s:
                    batch.cancel(actor=actor(), session=s, job_id=job_id)
                st.rerun(scope="app")
            if b[3].button("Retry failed items", key="batch_retry", disabled=off or p["errors"] == 0):
                with session_scope(engine) as s:
                    batch.retry_failed(actor=actor(), session=s, job_id=job_id)
                st.rerun(scope="app")
        except WorkbenchError as exc:
            st.error(md_escape(str(exc)))
        if active and p["status"] not in ("pending", "running"):
            st.rerun(scope="app")  # the job just ended: redraw results and stop polling

    panel()


def _results(engine: Any, job_id: int) -> None:
    with session_scope(engine) as s:
        job = batch.get_job(session=s, job_id=job_id)
        vlabels = version_labels(session=s, version_ids=list(job.version_ids))
    cmp = compare_versions(engine, job_id)
    st.markdown("**Results per version x model**")
    figures_table(cmp, "batch")
    labels = cmp.sides["side"].tolist()
    if cmp.metric is not None and len(labels) >= 2:  # each side against the first, on the same scale
        for other in labels[1:6]:
            _cases, v = cmp.pair(engine, labels[0], other)
            st.caption(md_escape(f"Verdict: {v.sentence}"))
    evaluators_table(cmp, "batch")
    grid_section(engine, job_id)
    matrix_view = st.toggle("Matrix view (one row per case, one column per version x model)", key="batch_matrix")
    if matrix_view:
        value = st.selectbox("Cells show", ["output", "passed", "score", "state"], key="batch_matrix_value")
        page = st.number_input("Page", 1, 100000, 1, key="batch_matrix_page")
        with session_scope(engine) as s:
            rows, cols, total = matrix(session=s, job_id=job_id, page=int(page),
                                                     page_size=PAGE_SIZE, value=value)
        shown = {"passed": verdict_text, "score": score}.get(value, text_or_dash)
        frame = pd.DataFrame([{"row": r["row"], "repeat": r["repeat"], **{c: shown(r.get(c)) if c in r else ""
                                                                         for c in cols}} for r in rows])
        st.dataframe(frame, hide_index=True, width="stretch")
        st.caption(f"{total} cases")
    else:
        f = st.columns(5)
        state = f[0].selectbox("Status", [ANY, "done", "error", "incomplete", "pending", "running"],
                               key="batch_f_state")
        verdict = f[1].selectbox("Pass/fail", [ANY, "passed", "failed"], key="batch_f_pass")
        ver = f[2].selectbox("Version", [ANY] + list(vlabels.values()), key="batch_f_version")
        model = f[3].selectbox("Model", [ANY] + list(job.models), key="batch_f_model")
        page = f[4].number_input("Page", 1, 100000, 1, key="batch_f_page")
        vid = next((k for k, v in vlabels.items() if v == ver), None)
        with session_scope(engine) as s:
            rows, total = results(
                session=s, job_id=job_id, page=int(page), page_size=PAGE_SIZE,
                state=None if state == ANY else state, passed=None if verdict == ANY else verdict == "passed",
                version_id=vid, model=None if model == ANY else model)
        st.dataframe(pd.DataFrame([{"row": r["row"], "version": r["version"], "model": r["model"], "state": r["state"],
                                    "verdict": verdict_text(r["passed"]) if r["state"] == "done" else "",
                                    "score": score(r["score"]), "output": text_or_dash(r["output"]),
                                    "tool calls": prompts.message_text({"tool_calls": r.get("tool_calls")}),
                                    "error": text_or_dash(r["error"]), "latency": latency_text(r["latency_ms"]),
                                    "cost": money(r["cost_usd"])}
                                   for r in rows]), hide_index=True, width="stretch")
        st.caption(f"{total} items, page {int(page)} of {max(1, -(-total // PAGE_SIZE))}")
    _downloads(engine, job_id)


def _downloads(engine: Any, job_id: int) -> None:
    cache = ss.setdefault("batch_downloads", {})
    if cache.get("job") != job_id:
        cache.clear()
    c = st.columns(4)
    if c[0].button("Prepare downloads", key="batch_prepare_dl"):
        with session_scope(engine) as s:
            data = list(records(session=s, job_id=job_id))
        cache.clear()
        cache.update({"job": job_id, **{fmt: to_bytes(data, fmt) for fmt in ("csv", "jsonl", "parquet")}})
    for i, fmt in enumerate(("csv", "jsonl", "parquet"), start=1):
        if fmt in cache:
            c[i].download_button(f"Download {fmt.upper()}", cache[fmt], file_name=f"batch-{job_id}.{fmt}",
                                 mime=MIME[fmt], key=f"batch_dl_{fmt}")
