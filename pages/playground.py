"""Playground: pick a prompt version (or a task preset), fill its variables, run it and watch the answer stream."""

from __future__ import annotations

import streamlit as st

from lib import prompts as prompts_lib
from lib.db import get_engine, session_scope
from lib.errors import TemplateError, WorkbenchError
from lib.identity import RUN
from lib.prompts import (
    CONTEXT_NAMES,
    MAX_BYTES,
    combine,
    count_messages,
    create_from_preset,
    get_preset,
    list_presets,
    read_attachment,
    render_messages,
    total_tokens,
    variables,
)
from lib.prompts import missing as templating_missing
from lib.ui import md_escape
from pages._views import conversation as conv
from pages._views import run_widgets as w
from pages._views.auth import actor
from pages._views.boot import require_app
from pages._views.play_form import apply_pending, open_run_from_query, recent_runs_picker, variable_form

require_app(__file__)

ss = st.session_state
PREVIEW_HEIGHT_PX = 420
PLAY_KEEP_OUT = (  # buttons, uploaders, one-shot values: never restored
    "play_run", "play_fill_example", "play_load_vars", "play_open_run", "play_preset_save", "play_files",
    "play_media", "play_next_media", "play_send", "play_save_thread", "play_pending_vars",
)
w.persist("play", exclude=PLAY_KEEP_OUT)
ss.setdefault("play_source", "Saved prompt")
engine = get_engine()

st.title("Playground")
if not st.query_params.get("run") and ss.get("play_last_run"):  # back from another page: show the last answer
    st.query_params["run"] = str(ss["play_last_run"])
apply_pending()
opened = open_run_from_query(engine)

# ---------------------------------------------------------------- what to run
src_col, pick_col = st.columns([1, 3])
source = src_col.radio("Start from", ["Saved prompt", "Task preset"], key="play_source")
version = None
messages: list[dict] = []
fmt = "mustache"
default_params: dict = {}
default_model = None
preset = None
name = None
with session_scope(engine) as session:
    if source == "Saved prompt":
        names = w.prompt_names(session)
        if not names:
            pick_col.info("No prompts yet: create one on the Prompts page, or start from a task preset.")
            st.stop()
        if ss.get("play_prompt") not in names:
            ss["play_prompt"] = names[0]
        c1, c2 = pick_col.columns(2)
        name = c1.selectbox("Prompt", names, key="play_prompt")
        refs, numbers = w.version_choices(session, name)
        if ss.get("play_ref") not in refs:
            ss["play_ref"] = refs[0]
        ref = c2.selectbox("Version or label", refs, key="play_ref", format_func=lambda r: w.ref_label(r, numbers))
        try:
            version = prompts_lib.resolve(session=session, ref=ref)
        except WorkbenchError as exc:
            w.lib_error(exc)
            st.stop()
        session.expunge(version)
        messages, fmt = list(version.messages), version.template_format
        default_params, default_model = w.as_params(version.params), version.model
        if ss.get("play_defaults_for") != version.id:  # another version: start from its model and parameters
            ss["play_defaults_for"] = version.id
            if version.model:
                ss["play_model"] = version.model
            w.seed_params("play", default_params)
    else:
        keys = [p.key for p in list_presets()]
        key = pick_col.selectbox("Task preset", keys, key="play_preset",
                                 format_func=lambda k: get_preset(k).title)
        preset = get_preset(key)
        pick_col.caption(md_escape(f"{preset.description} Recommended: temperature {preset.params['temperature']}, "
                                   f"max tokens {preset.params['max_tokens']}."))
        messages, default_params = preset.message_list(), dict(preset.params)
        if ss.get("play_params_for") != key:  # a newly picked preset fills its recommended parameters
            ss["play_params_for"] = key
            w.seed_params("play", preset.params)
    # the model typed into the picker (ENDPOINT/MODEL) stays a choice, or the check below would swap it for echo
    model_choices = w.model_options(session, [default_model, ss.get("play_model")])

try:
    names_in_prompt = variables(messages, fmt)
except TemplateError as exc:
    w.lib_error(exc)
    st.stop()

# ---------------------------------------------------------------- variables, attachments, preview
left, right = st.columns([3, 2])
with left:
    st.subheader("Variables")
    if preset is not None:
        st.button("Fill with the preset's example", key="play_fill_example",
                  on_click=lambda: ss.update({f"play_var_{k}": v for k, v in preset.example.items()}))
    values, form_errors = variable_form(names_in_prompt)
    with st.expander("Attach text or code files", expanded=False):
        files = st.file_uploader("Files", accept_multiple_files=True, key="play_files",
                                 help=f"Text or code, up to {MAX_BYTES // 1024} KB each.")
        roots = list(dict.fromkeys(n.split(".")[0] for n in names_in_prompt)) or ["(no variables)"]
        if ss.get("play_attach_to") not in roots:  # prefer a variable that reads like context
            ss["play_attach_to"] = next((r for r in roots if r.lower() in CONTEXT_NAMES), roots[0])
        target = st.selectbox("Put the files into variable", roots, key="play_attach_to")
        loaded = []
        for f in files or []:
            try:
                a = read_attachment(f.name, f.getvalue())
            except WorkbenchError as exc:
                w.lib_error(exc)
                continue
            loaded.append(a)
            st.caption(md_escape(f"{a.name}: {a.size_bytes:,} bytes, ~{a.tokens:,} tokens ({a.encoding})"))
            for warn in a.warnings:
                st.warning(md_escape(f"{a.name}: {warn}"))
        if loaded and target != "(no variables)":
            values[target] = combine(loaded)
            st.info(md_escape(f"{len(loaded)} file(s), ~{total_tokens(loaded):,} tokens in all, "
                              f"replace the value typed for {{{{{target}}}}}."))
    with st.expander("Attach images or PDFs", expanded=False):
        st.caption("Added to the last user message as image or file parts (the provider must support them).")
        media, media_refused = conv.media_uploader("play_media")
    recent_runs_picker(engine, version)

rendered = None
ss.setdefault("play_preview_open", True)
with right:
    missing = templating_missing(messages, values, fmt)
    if missing:  # said outside the preview: it is why Run is off, even with the preview folded
        st.warning("Missing values: " + ", ".join(md_escape(m) for m in missing), icon=":material/info:")
    else:
        try:
            rendered = conv.attach_to_last_user(render_messages(messages, values, fmt), media)
        except WorkbenchError as exc:  # a template error, or a placeholder fed something that is not a list
            w.lib_error(exc)
    # the preview folds away at Run (the answer comes next) and stays as the person leaves it (keyed)
    with st.expander("Preview", key="play_preview_open", on_change="rerun", icon=":material/visibility:"):
        if rendered is None:
            st.caption("Fill the variables to see the messages that will be sent.")
        else:
            images = " (images: a rough guess)" if prompts_lib.has_media(rendered) else ""
            st.caption(md_escape(f"~{count_messages(rendered):,} prompt tokens (estimate){images}"))
            with st.container(border=True, height=PREVIEW_HEIGHT_PX, key="play_preview_box"):  # long inputs scroll
                w.show_messages(rendered)

# ---------------------------------------------------------------- model and parameters
st.subheader("Model and parameters")
if ss.get("play_model") not in model_choices:
    ss["play_model"] = default_model if default_model in model_choices else model_choices[0]
m1, m2 = st.columns([1, 2])
model = m1.selectbox("Model (endpoint/model)", model_choices, key="play_model", accept_new_options=True,
                     help=w.MODEL_HELP)
with m2:
    params, params_error = w.params_inputs("play", default_params)
if params_error:
    st.error(md_escape(params_error))

can_call = not form_errors and not params_error and bool(model)
can_run = rendered is not None and can_call and not media_refused
may_run = actor().can(RUN)  # lib refuses too; this only hides what the role cannot do
run_clicked = st.button("Run", type="primary", key="play_run", disabled=not can_run or not may_run,
                        on_click=lambda: ss.update(play_preview_open=False),
                        icon=":material/play_arrow:", help=None if may_run else "Your role can read but not run models")

# ---------------------------------------------------------------- run and answer
# The answer area has the same three slots (heading, answer, figures) whether it shows a new or an opened
# run, so pressing Run overwrites each at once: nothing of the last run (tokens, cost, latency, run #) stays
# under the new answer (Streamlit keeps an old element on screen until something takes its place).
with st.container(key="play_answer"):  # the anchor Run scrolls to
    head, jump, body, figures = st.empty(), st.empty(), st.empty(), st.empty()
current = opened
if run_clicked:
    head.subheader("Answer (running)")
    with jump.container():
        w.scroll_to("play_answer")  # the answer is below the set-up: bring it into view as it streams
    with figures.container():
        w.show_running_metrics()
    with body.container():
        result = conv.stream_call(engine, model=model, messages=rendered, version=version, variables=values,
                                  params=params)
    if result is None:  # could not start: the error is shown, no figure is
        figures.empty()
        head.subheader("Answer")
        st.stop()
    head.subheader(f"Answer (run #{result.run_id})" if result.run_id else "Answer")
    with body.container():
        w.show_error(result)
        w.show_output(result)
        conv.show_structured(result.text, params)
    with figures.container():
        w.show_metrics(result)
    if result.run_id:
        ss["play_last_run"] = ss["play_opened"] = result.run_id  # the form already holds its settings
        st.query_params["run"] = str(result.run_id)
        current = result.run
elif opened is not None:
    head.subheader(f"Answer (run #{opened.id})" + (f", continuing run #{opened.parent_run_id}"
                                                   if opened.parent_run_id else ""))
    with body.container():
        w.show_error(opened)
        w.show_output(opened)
        conv.show_structured(opened.output, opened.params)
    with figures.container():
        w.show_metrics(opened)
conv.conversation(engine, current, version=version, prompt_name=name, model=model, params=params, values=values,
                  can_call=can_call)

if preset is not None:
    with st.expander("Save this preset as a prompt"):
        new_name = st.text_input("Prompt name", key="play_preset_name", placeholder=f"my-{preset.key}")
        if st.button("Save as a new prompt", key="play_preset_save"):
            if not new_name.strip():
                st.error("Give the new prompt a name first.")
                st.stop()
            try:
                with session_scope(engine) as session:
                    v = create_from_preset(actor=actor(), session=session, key=preset.key, name=new_name,
                                                   model=model or None)
                    saved = f"{new_name}:{v.number}"
                st.success(md_escape(f"Saved {saved}. Pick it under 'Saved prompt' to keep iterating."))
            except WorkbenchError as exc:
                w.lib_error(exc)

w.remember("play", exclude=PLAY_KEEP_OUT)  # values the script itself set on this run
