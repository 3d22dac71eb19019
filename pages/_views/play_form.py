"""Playground helpers: the variable form, reopening a run from ?run=ID and loading past variables."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from lib import runs as runs_lib
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.ui import md_escape
from pages._views.run_widgets import seed_params

ss = st.session_state


def variable_roots(names: list[str]) -> dict[str, bool]:
    """Root variable -> whether it is nested (used as {{root.field}} somewhere)."""
    out: dict[str, bool] = {}
    for n in names:
        root = n.split(".")[0]
        out[root] = out.get(root, False) or "." in n
    return out


def as_field_text(value: Any) -> str:
    """A stored variable value as the text a form field shows (JSON for anything but text)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def set_variables(values: dict[str, Any]) -> None:
    """Put values into the form's fields (call from a callback or before the fields are drawn)."""
    for k, v in (values or {}).items():
        ss[f"play_var_{k}"] = as_field_text(v)


def variable_form(names: list[str]) -> tuple[dict[str, Any], list[str]]:
    """One field per root variable (JSON for nested ones); returns (values, errors). Empty fields are missing."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    roots = variable_roots(names)
    if not roots:
        st.caption("This prompt has no variables.")
    for root, nested in roots.items():
        key = f"play_var_{root}"
        ss.setdefault(key, "")
        if nested:
            hint = f'Used as {{{{{root}.field}}}}: give a JSON object, e.g. {{"name": "Ada"}}'
            text = st.text_area(md_escape(f"{root} (JSON)"), key=key, height=120, help=md_escape(hint))
        else:
            text = st.text_area(md_escape(root), key=key, height=90)
        if not text.strip():
            continue
        if nested or text.lstrip()[:1] in ("{", "["):
            try:
                values[root] = json.loads(text)
                continue
            except json.JSONDecodeError as exc:
                if nested:
                    errors.append(root)
                    st.error(md_escape(f"{root}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"))
                    continue
        values[root] = text
    return values, errors


def open_run_from_query(engine: Any) -> Any:
    """The run named by ?run=ID (detached); the first time it is opened, its settings fill the form."""
    raw = st.query_params.get("run")
    if not raw:
        return None
    try:
        run_id = int(raw)
        with session_scope(engine) as session:
            run = runs_lib.get_run(session=session, run_id=run_id)
            session.expunge(run)
    except (ValueError, WorkbenchError) as exc:
        st.warning(md_escape(f"Cannot open run {raw!r}: {exc}"))
        return None
    if ss.get("play_opened") != run_id:
        ss["play_opened"] = run_id
        set_variables(run.variables)
        if run.prompt_name and run.version_number:
            ss["play_source"] = "Saved prompt"
            ss["play_prompt"] = run.prompt_name
            ss["play_ref"] = f"{run.prompt_name}:{run.version_number}"
            ss["play_defaults_for"] = run.version_id  # keep the run's model and parameters below
        ss["play_model"] = f"{run.endpoint}/{run.model}"
        seed_params("play", run.params)  # odd values (text, out of range) land in Other parameters
    return run


def apply_pending() -> None:
    """Apply a 'load variables' request made by a button on the previous run of the script."""
    pending = ss.pop("play_pending_vars", None)
    if pending:
        set_variables(pending)


def recent_runs_picker(engine: Any, version: Any) -> None:
    """Load variables from one of the last runs of this version (or any run when no version is picked)."""
    with st.expander("Load variables from a past run"):
        # by version id: indexed (version_id, created_at), so this stays fast with a large run log
        filters = {"version_id": version.id} if version is not None else {"source": "playground"}
        try:
            with session_scope(engine) as session:
                rows, _total = runs_lib.list_runs(session=session, page=1, page_size=10, **filters)
                recent = [(r.id, r.created_at, r.status, r.version_number, dict(r.variables or {})) for r in rows]
        except WorkbenchError as exc:
            st.error(md_escape(str(exc)))
            return
        if not recent:
            st.caption("No runs of this version yet.")
            return
        labels = {rid: f"#{rid} · v{vn or '-'} · {status} · {created:%Y-%m-%d %H:%M} · "
                       f"{', '.join(list(vars_)[:3]) or 'no variables'}"
                  for rid, created, status, vn, vars_ in recent}
        by_id = {rid: vars_ for rid, _c, _s, _v, vars_ in recent}
        pick = st.selectbox("Run", list(labels), key="play_past_run", format_func=lambda r: labels[r])
        c1, c2 = st.columns(2)
        c1.button("Load its variables", key="play_load_vars",
                  on_click=lambda: ss.update(play_pending_vars=by_id.get(ss.get("play_past_run"), {})))
        if c2.button("Open the run", key="play_open_run"):
            st.query_params["run"] = str(pick)
            st.rerun()
