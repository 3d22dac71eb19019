"""The Batch results grid: cases x (version x model) coloured pass/fail, one cell's details, a human grade."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lib import prompts
from lib.batch import clear_grade, evaluators_of, grade_item, item_detail, results_grid
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.identity import BATCH_WRITE
from lib.ui import UNKNOWN, latency_text, md_escape, money, percent, score, text_or_dash, tokens
from pages._views import run_widgets as w
from pages._views.auth import actor

PAGE_SIZE = 25
ALL = "(all evaluators)"
MARK = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠ error", "unscored": "· unscored", "pending": "… pending"}
COLOUR = {"pass": "background-color: #d9f2dd", "fail": "background-color: #f8d7da",
          "error": "background-color: #fde8c8", "unscored": "", "pending": "color: #888"}
ss = st.session_state


def verdict_text(passed: bool | None) -> str:
    """pass / fail / unknown (never a raw None)."""
    return UNKNOWN if passed is None else "pass" if passed else "fail"


def _frame(rows: list[dict], columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid's text and a same-shaped frame of outcome classes (for the colours)."""
    text, kinds = [], []
    for r in rows:
        inputs = ", ".join(f"{k}={v}" for k, v in (r.get("inputs") or {}).items())
        t = {"row": str(r["row"]) + (f" #{r['repeat'] + 1}" if r["repeat"] else ""), "inputs": inputs[:120]}
        k = {"row": "", "inputs": ""}
        for c in columns:
            cell = r["cells"].get(c)
            if cell is None:
                t[c], k[c] = "", ""
                continue
            t[c] = f"{MARK[cell['outcome']]} · {cell['short']}"
            k[c] = cell["outcome"]
        text.append(t)
        kinds.append(k)
    cols = ["row", "inputs", *columns]
    return pd.DataFrame(text, columns=cols), pd.DataFrame(kinds, columns=cols)


def grid_section(engine: Any, job_id: int) -> None:
    """Filters, the coloured grid, and the details (with a manual grade) of the chosen cell."""
    st.markdown("**Results grid** (one row per case, one column per version x model)")
    with session_scope(engine) as s:
        names = evaluators_of(session=s, job_id=job_id)
    f = st.columns(3)
    failures = f[0].toggle("Failures only", key="batch_grid_failures")
    chosen = f[1].selectbox("Evaluator", [ALL, *names], key="batch_grid_eval",
                            help="Colour and filter the cells by this evaluator's verdict alone")
    page = f[2].number_input("Page", 1, 100000, 1, key="batch_grid_page")
    evaluator = None if chosen == ALL else chosen
    with session_scope(engine) as s:
        rows, columns, total = results_grid(session=s, job_id=job_id, page=int(page), page_size=PAGE_SIZE,
                                            failures_only=failures, evaluator=evaluator)
    if not rows:
        st.caption("No failing case." if failures else "No case yet.")
        return
    text, kinds = _frame(rows, columns)
    styled = text.style.apply(lambda col: [COLOUR.get(k, "") for k in kinds[col.name]], axis=0)
    event = st.dataframe(styled, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-cell",
                         key="batch_grid_table")
    st.caption(f"{total} case(s){' with a failure' if failures else ''}, page {int(page)} of "
               f"{max(1, -(-total // PAGE_SIZE))}; click a cell to open it")
    cells = {_cell_name(r, c): r["cells"][c]["item_id"] for r in rows for c in columns if c in r["cells"]}
    chosen_cells = list((getattr(event, "selection", None) or {}).get("cells") or [])
    if chosen_cells and chosen_cells != ss.get("batch_grid_clicked"):
        ss.batch_grid_clicked = chosen_cells  # a new click opens that cell (the select box stays usable too)
        pos, col = chosen_cells[0]
        if 0 <= int(pos) < len(rows) and col in rows[int(pos)]["cells"]:
            ss.batch_grid_cell = _cell_name(rows[int(pos)], col)
    if ss.get("batch_grid_cell") not in cells:
        ss.pop("batch_grid_cell", None)
    pick = st.selectbox("Open a cell", list(cells), key="batch_grid_cell")
    if pick:
        _detail(engine, cells[pick])


def _cell_name(row: dict, column: str) -> str:
    return f"row {row['row']}" + (f" #{row['repeat'] + 1}" if row["repeat"] else "") + f" · {column}"


def _detail(engine: Any, item_id: int) -> None:
    with session_scope(engine) as s:
        d = item_detail(session=s, item_id=item_id)
    st.markdown(md_escape(f"{d['version']} on {d['model']}, row {d['row']}: {verdict_text(d['passed'])}"
                          + (" (graded by hand)" if d["human"] else "")))
    m = st.columns(4)
    m[0].metric("Tokens", tokens(d["prompt_tokens"], d["completion_tokens"], d["usage_estimated"]))
    m[1].metric("Cost", money(d["cost_usd"]))
    m[2].metric("Latency", latency_text(d["latency_ms"]))
    m[3].metric("Score", score(d["score"]))
    if d["error"]:
        st.error(md_escape(d["error"]))
    st.caption("Inputs")
    st.code("\n".join(f"{k}: {v}" for k, v in d["inputs"].items()) or "(no input)", language=None,
            wrap_lines=True)
    st.caption("Rendered messages")
    st.code("\n".join(f"[{m.get('role')}] {prompts.message_text(m)}" for m in d.get("messages") or [])
            or "(not sent)", language=None, wrap_lines=True)
    st.caption("Answer")
    if d["output"] or not d.get("tool_calls"):
        st.code(text_or_dash(d["output"]) or "(no answer)", language=None, wrap_lines=True)
    w.show_tool_calls(d.get("tool_calls"))
    if d["evaluators"]:
        st.dataframe(pd.DataFrame([{"evaluator": e["evaluator"], "verdict": verdict_text(e["passed"]),
                                    "score": percent(e["score"], 0), "reason": text_or_dash(e["reason"])}
                                   for e in d["evaluators"]]), hide_index=True, width="stretch")
    else:
        st.caption("No evaluator scored this answer.")
    if d["human"]:
        st.info(md_escape(f"Human grade: {verdict_text(d['human']['passed'])} - {d['human']['reason'] or ''}"))
    if d["state"] != "done":
        return
    if not actor().can(BATCH_WRITE):  # lib refuses a viewer's grade too; say so instead of offering it
        st.caption("Editors and admins can grade answers by hand.")
        return
    reason = st.text_input("Why (optional)", key=f"batch_grade_reason_{item_id}")
    b = st.columns(3)
    try:
        if b[0].button("Grade pass", key=f"batch_grade_pass_{item_id}"):
            _save(engine, item_id, True, reason)
        if b[1].button("Grade fail", key=f"batch_grade_fail_{item_id}"):
            _save(engine, item_id, False, reason)
        if d["human"] and b[2].button("Clear the grade", key=f"batch_grade_clear_{item_id}"):
            with session_scope(engine) as s:
                clear_grade(session=s, actor=actor(), item_id=item_id)
                s.commit()
            st.rerun()
    except WorkbenchError as exc:
        st.error(md_escape(str(exc)))


def _save(engine: Any, item_id: int, passed: bool, reason: str) -> None:
    with session_scope(engine) as s:
        grade_item(session=s, actor=actor(), item_id=item_id, passed=passed, reason=reason)
        s.commit()
    st.rerun()
