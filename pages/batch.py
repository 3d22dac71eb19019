"""Batch: run a dataset through prompt versions x models, with evaluators, live progress and exports.

Layout only: every decision is a lib call (datasets, mapping, preflight, batch, batch_results,
export).  The job itself runs in the background worker (never in this script thread); the
progress panel is a fragment that refreshes itself while the job is active.
"""

from __future__ import annotations

import hashlib
import os

import streamlit as st

from lib import batch, datasets, prompts
from lib.batch import preflight as preflight_preflight
from lib.batch import start_background_worker
from lib.datasets import auto_map, has_errors, lint, preview, suggest_columns
from lib.db import get_engine, session_scope
from lib.errors import WorkbenchError
from lib.evals import parse_spec
from lib.identity import BATCH_WRITE
from lib.prompts import variables as templating_variables
from lib.ui import md_escape
from pages._views import batch as view
from pages._views import dataset_edit
from pages._views import run_widgets as w
from pages._views.auth import actor
from pages._views.boot import require_app

require_app(__file__)

ss = st.session_state
# the set-up (dataset, versions, models, mapping, evaluators, budget) and the open job survive a reload
BATCH_KEEP_OUT = (  # buttons, uploaders, one-shot values: never restored
    "batch_preflight", "batch_upload", "batch_start", "batch_pause", "batch_resume", "batch_cancel",
    "batch_retry", "batch_prepare_dl", "batch_dl_", "batch_job_pick_", "batch_grid_cell", "batch_grade_",
)
w.persist("batch", exclude=BATCH_KEEP_OUT)
engine = get_engine()
for key, default in (("batch_dataset_id", None), ("batch_job_id", None), ("batch_preflight", None),
                     ("batch_upload_sig", None)):
    ss.setdefault(key, default)

st.title("Batch")
st.caption("Test prompt versions on a dataset: every row x version x model is one call, stored with its scores.")

# ---------------------------------------------------------------- 1. data
st.subheader("1. Dataset")
with session_scope(engine) as s:
    stored = [(d.id, d.name if d.revision == 1 else f"{d.name}@{d.revision}", d.row_count)
              for d in datasets.list_datasets(session=s)]
source = st.radio("Source", ["Upload a file", "Stored dataset"], horizontal=True, key="batch_source",
                  index=1 if stored and ss.batch_dataset_id else 0)
if source == "Upload a file":
    up = st.file_uploader("CSV, TSV, JSONL or JSON (promptfoo columns such as __expected are understood)",
                          type=["csv", "tsv", "jsonl", "json", "txt"], key="batch_upload")
    # By content, not (name, size): a file fixed in place (one cell edited) often keeps both, and was ignored.
    sig = None if up is None else (up.name, hashlib.sha256(up.getvalue()).hexdigest())
    if up is not None and ss.batch_upload_sig != sig:
        try:
            with session_scope(engine) as s:
                ds = datasets.import_dataset(actor=actor(), session=s, data=up.getvalue(), filename=up.name)
                ss.batch_dataset_id = ds.id
            ss.batch_upload_sig = sig
            ss.batch_preflight = None
        except WorkbenchError as exc:
            st.error(md_escape(str(exc)))
elif stored:
    labels = {f"{name} ({rows} rows)": did for did, name, rows in stored}
    ids = list(labels.values())
    idx = ids.index(ss.batch_dataset_id) if ss.batch_dataset_id in ids else 0
    choice = st.selectbox("Dataset", list(labels), index=idx, key="batch_pick")
    if labels[choice] != ss.batch_dataset_id:
        ss.batch_dataset_id, ss.batch_preflight = labels[choice], None
else:
    st.info("No stored dataset yet: upload one.")

dataset = view.dataset_summary(engine, ss.batch_dataset_id)
if dataset is not None:
    dataset_edit.editor(engine, dataset)
if dataset is None:
    view.job_section(engine)
    st.stop()

# ---------------------------------------------------------------- 2. versions x models
st.subheader("2. Prompt versions and models")
with session_scope(engine) as s:
    version_labels, model_opts = prompts.version_refs(session=s), w.model_options(s)
c1, c2 = st.columns(2)
chosen_versions = c1.multiselect("Prompt versions", list(version_labels), key="batch_versions",
                                 placeholder="Choose one or more versions")
chosen_models = c2.multiselect("Models", model_opts, key="batch_models", default=None,
                               placeholder="Choose one or more models")
if not version_labels:
    st.info("No prompt yet: create one on the Prompts page.")
if chosen_versions and chosen_models:
    st.caption(f"Each row is sent to {len(chosen_versions) * len(chosen_models)} version x model combinations:")
    st.dataframe(view.combo_matrix(chosen_versions, chosen_models), width="stretch")
version_ids = [version_labels[v] for v in chosen_versions]

# ---------------------------------------------------------------- 3. mapping, preview, lint
st.subheader("3. Column mapping")
with session_scope(engine) as s:
    versions = view.load_versions(s, version_ids)
    rows = datasets.get_rows(session=s, dataset_id=dataset["id"], limit=view.LINT_ROWS)
variables = []
for v in versions:
    for name in templating_variables(v):
        if name not in variables:
            variables.append(name)
columns = list(dataset["columns"])
auto = auto_map(columns, variables)
suggested = suggest_columns(columns, variables)  # close names ("customer_company" for {{company}})
chosen_map: dict[str, str | None] = {}
if variables:
    cols = st.columns(min(3, len(variables)))
    for i, var in enumerate(variables):
        opts = ["(none)"] + columns
        want = auto.get(var) or suggested.get(var)
        default = opts.index(want) if want in opts else 0
        pick = cols[i % len(cols)].selectbox(f"{{{{{var}}}}} ←", opts, index=default, key=f"batch_map_{var}")
        if var in suggested and pick == suggested[var]:
            cols[i % len(cols)].caption(md_escape(f"suggested: {suggested[var]} (a close name; check it)"))
        chosen_map[var] = None if pick == "(none)" else pick
elif versions:
    st.caption("These versions have no variables: every row sends the same messages.")
issues = []
if versions:
    issues = lint(columns=columns, variables=variables, mapping=chosen_map, rows=rows, version=versions[0],
                          models=chosen_models or None)
    view.show_lint(issues, len(rows), dataset["row_count"])
    with st.expander("Preview of the first rendered prompts", expanded=False):
        view.show_preview(preview(versions[0], rows, chosen_map, n=3))

# ---------------------------------------------------------------- 4. evaluators and limits
st.subheader("4. Evaluators and limits")
eval_text = st.text_area("Evaluators, one per line (e.g. contains:Paris, regex:^\\d+$, is-json, similar:0.8:text, "
                         "judge:echo/echo:Is it polite?, python:module:function)", key="batch_evals", height=90)
judge_model = st.text_input("Judge model (ENDPOINT/MODEL) for judge / llm-rubric evaluators that name none",
                            key="batch_judge_model", placeholder="e.g. openai/gpt-4o-mini").strip() or None
specs, bad = [], []
for line in (eval_text or "").splitlines():
    if line.strip():
        try:
            specs.append(parse_spec(line.strip(), judge_default=bool(judge_model)).to_dict())
        except (ValueError, WorkbenchError) as exc:
            bad.append(f"{line.strip()}: {exc}")
for b in bad:
    st.error(md_escape(b))
st.caption("Per-row expectations (`__expected` columns, JSONL `assert`) are applied automatically.")
l1, l2, l3, l4 = st.columns(4)
concurrency = l1.number_input("Concurrency", 1, 256, 8, key="batch_concurrency")
repeats = l2.number_input("Repeats", 1, 20, 1, key="batch_repeats")
budget = l3.number_input("Budget USD (0 = none)", 0.0, 100000.0, 0.0, step=1.0, key="batch_budget")
mode = l4.selectbox("Mode", ["live", "provider"], key="batch_mode",
                    help="provider = the endpoint's Batch API (OpenAI-compatible, or Anthropic Message Batches): "
                         "cheaper, slower")

# ---------------------------------------------------------------- 5. preflight and start
st.subheader("5. Preflight")
ready = bool(version_ids and chosen_models and not bad and not has_errors(issues))
plan = dict(dataset_id=dataset["id"], version_ids=version_ids, models=list(chosen_models), mapping=chosen_map,
            repeats=int(repeats), concurrency=int(concurrency))
if st.button("Preflight", key="batch_preflight_btn", disabled=not ready, type="secondary"):
    try:
        with session_scope(engine) as s:
            ss.batch_preflight = {"plan": plan, "result": preflight_preflight(session=s, **plan)}
    except WorkbenchError as exc:
        st.error(md_escape(str(exc)))
pf = ss.batch_preflight
if pf and pf["plan"] == plan:
    view.show_preflight(pf["result"])
    if st.button("Start the job", key="batch_start", type="primary", disabled=not actor().can(BATCH_WRITE)):
        try:
            with session_scope(engine) as s:
                job = batch.submit(actor=actor(), session=s, evaluators=specs, budget_usd=float(budget) or None,
                                   mode=mode,
                                   judge_model=judge_model, **plan)
            ss.batch_job_id, ss.batch_preflight = job.id, None
            if os.environ.get("WORKBENCH_START_WORKER", "1").strip().lower() not in ("0", "false", "no"):
                start_background_worker(engine)  # idempotent: the app normally started it already
            st.rerun()
        except WorkbenchError as exc:
            st.error(md_escape(str(exc)))
elif ready:
    st.caption("Run the preflight to see calls, tokens, cost and time before starting.")

view.job_section(engine)

w.remember("batch", exclude=BATCH_KEEP_OUT)  # values the script itself set on this run
