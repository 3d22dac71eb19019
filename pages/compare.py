"""Compare: 2 to 6 (prompt version, model, parameters) columns sharing one set of variables, run at once."""

from __future__ import annotations

import json

import streamlit as st

from lib import compare
from lib import prompts as prompts_lib
from lib.compare import ColumnSpec
from lib.db import get_engine, session_scope
from lib.errors import TemplateError, WorkbenchError
from lib.identity import RUN
from lib.prompts import missing as templating_missing
from lib.prompts import variables
from lib.ui import md_escape
from pages._views import compare as view
from pages._views import run_widgets as w
from pages._views.auth import actor
from pages._views.boot import require_app
from pages._views.play_form import variable_roots

require_app(__file__)

ss = st.session_state
CMP_KEEP_OUT = ("cmp_run", "cmp_up_", "cmp_down_", "cmp_vote_btn", "cmp_job_id")
w.persist("cmp", exclude=CMP_KEEP_OUT)
ss.setdefault("cmp_n", 3)
engine = get_engine()
st.title("Compare")

permalink = st.query_params.get("compare")
job = compare.running_job(ss.get("cmp_job_id"))  # only the id lives in the session
expanded = not permalink
if not permalink and job is not None:  # back from another page: show the last comparison again
    permalink = job.compare_id
    st.query_params["compare"] = permalink


def _collapse_setup() -> None:
    ss["cmp_setup"] = False  # after Run the answers come first; the set-up is one click away


ss.setdefault("cmp_setup", expanded)
started = False  # a comparison was started on this run
with st.expander("Columns and variables", key="cmp_setup", on_change="rerun"):
    st.number_input("Columns", min_value=compare.MIN_COLUMNS, max_value=compare.MAX_COLUMNS, step=1, key="cmp_n")
    n = int(ss["cmp_n"])
    specs: list[ColumnSpec | None] = []
    versions = []
    problems: list[str] = []
    with session_scope(engine) as session:
        names = w.prompt_names(session)
        if not names:
            st.info("No prompts yet: create one on the Prompts page first.")
            st.stop()
        cols = st.columns(n)
        for i in range(n):
            with cols[i]:
                st.markdown(f"**Column {i + 1}**")
                if ss.get(f"cmp_prompt_{i}") not in names:
                    ss[f"cmp_prompt_{i}"] = names[0]
                name = st.selectbox("Prompt", names, key=f"cmp_prompt_{i}")
                refs, numbers = w.version_choices(session, name)
                if ss.get(f"cmp_ref_{i}") not in refs:
                    ss[f"cmp_ref_{i}"] = refs[0]
                ref = st.selectbox("Version", refs, key=f"cmp_ref_{i}",
                                   format_func=lambda r, n=numbers: w.ref_label(r, n))
                version = prompts_lib.resolve(session=session, ref=ref)
                session.expunge(version)
                versions.append(version)
                if ss.get(f"cmp_defaults_for_{i}") != version.id:  # another version: start from its settings
                    ss[f"cmp_defaults_for_{i}"] = version.id
                    if version.model:
                        ss[f"cmp_model_{i}"] = version.model
                    w.seed_params(f"cmp_{i}", w.as_params(version.params))
                # a model typed into the picker (ENDPOINT/MODEL) stays a choice, not swapped for the first one
                options = w.model_options(session, [version.model, ss.get(f"cmp_model_{i}")])
                if ss.get(f"cmp_model_{i}") not in options:
                    ss[f"cmp_model_{i}"] = version.model if version.model in options else options[0]
                model = st.selectbox("Model", options, key=f"cmp_model_{i}", accept_new_options=True, help=w.MODEL_HELP)
                params, err = w.params_inputs(f"cmp_{i}", w.as_params(version.params))
                if err:
                    problems.append(f"column {i + 1}: {err}")
                specs.append(ColumnSpec(version.id, model or "", params))
    st.markdown("**Shared variables**")
    wanted: list[str] = []
    for v in versions:
        try:
            wanted += [n for n in variables(v) if n not in wanted]
        except TemplateError as exc:
            problems.append(str(exc))
    values: dict = {}
    for root, nested in variable_roots(wanted).items():
        text = st.text_area(md_escape(f"{root} (JSON)" if nested else root), key=f"cmp_var_{root}", height=80)
        if text.strip():
            if nested:
                try:
                    values[root] = json.loads(text)
                except json.JSONDecodeError as exc:
                    problems.append(f"{root}: not valid JSON ({exc.msg})")
            else:
                values[root] = text
    missing = [m for v in versions for m in templating_missing(v, values)]
    if missing:
        st.warning("Missing values: " + ", ".join(md_escape(m) for m in dict.fromkeys(missing)))
    for p in problems:
        st.error(md_escape(p))
    blind = st.toggle("Blind mode (hide names and shuffle until you vote)", key="cmp_blind")
    if st.button("Run all columns", type="primary", key="cmp_run", icon=":material/play_arrow:",
                 disabled=bool(problems or missing) or not actor().can(RUN), on_click=_collapse_setup):
        try:
            job = compare.start(actor=actor(), engine=engine, columns=[s for s in specs if s], variables=values,
                                blind=blind)
        except WorkbenchError as exc:
            w.lib_error(exc)
            job = None
        if job is not None:
            started = True
            ss["cmp_job_id"] = job.compare_id
            st.query_params["compare"] = job.compare_id
            permalink = job.compare_id

if permalink:
    with st.container(key="cmp_results"):  # the anchor Run scrolls to
        if started:
            w.scroll_to("cmp_results")  # the answers come first after Run, even below a long set-up
        if job is not None and job.compare_id == permalink and not job.done:
            with session_scope(engine) as session:
                labels = compare.column_labels(session=session, comparison=compare.get_comparison(
                    session=session, compare_id=permalink))
            live_area = st.empty()
            with live_area.container():
                view.live(job, labels)
            live_area.empty()
        mine = job is not None and job.compare_id == permalink
        view.show(permalink, {i: c.error for i, c in enumerate(job.snapshot()) if c.error} if mine else None)
else:
    st.caption("Pick the columns, fill the shared variables and press Run: every column starts at once.")

w.remember("cmp", exclude=CMP_KEEP_OUT)  # values the script itself set on this run
