"""Prompts: find a prompt (search, tag, paginated), edit it as a draft, save versions, diff, label, manage."""

from __future__ import annotations

import logging

import streamlit as st

from lib import db, prompts
from lib.client import list_endpoints
from lib.errors import WorkbenchError
from lib.identity import PROMPT_WRITE
from lib.prompts import import_prompt
from lib.ui import md_escape
from pages._views.auth import actor
from pages._views.boot import require_app
from pages._views.flash import flash, show_flashes
from pages._views.prompt_editor import NEW, PAGE, get_draft, render_editor, replace_draft
from pages._views.prompt_versions import render_diff, render_labels, render_manage, render_timeline

require_app(__file__)

PAGE_SIZE = 20
log = logging.getLogger("workbench.prompts")
ss = st.session_state
ss.setdefault("prompts_page", 1)
if "prompts_selected" not in ss:
    ss["prompts_selected"] = st.query_params.get("prompt")


def _select(name: str | None) -> None:
    ss["prompts_selected"] = name


def _new() -> None:
    ss["prompts_selected"] = NEW


def _turn(delta: int) -> None:
    ss["prompts_page"] = max(1, ss["prompts_page"] + delta)


def _filters_changed() -> None:
    ss["prompts_page"] = 1


def _import() -> None:
    upload = ss.get("prompts_import_file")
    text = upload.getvalue().decode("utf-8", errors="replace") if upload is not None else \
        (ss.get("prompts_import_text") or "")
    if not text.strip():
        flash(PAGE, "error", "Choose an exported .json file or paste its text first.")
        return
    try:
        with db.session_scope() as session:
            p = import_prompt(actor=actor(), session=session, data=text,
                                        name=(ss.get("prompts_import_name") or "").strip() or None)
            name = p.name
    except WorkbenchError as exc:
        flash(PAGE, "error", f"Import failed: {exc}")
        return
    except Exception as exc:  # a JSON export of the wrong shape (e.g. "versions": "x") must not be a traceback
        log.exception("prompt import failed")
        flash(PAGE, "error", f"Import failed: this is not a valid prompt export ({type(exc).__name__}: {exc})"[:500])
        return
    ss["prompts_selected"] = name
    ss["prompts_import_text"] = ""
    flash(PAGE, "success", f"Imported {name}.")


st.title("Prompts")
show_flashes(PAGE)
left, right = st.columns([1, 2.4], gap="large")

# ---- the selected prompt (drawn first so the list reflects what was just saved)
selected = ss.get("prompts_selected")
with right:
    if selected == NEW:
        st.subheader("New prompt")
        render_editor(NEW, None, None)
    elif selected:
        try:
            with db.session_scope() as session:
                prompt = prompts.get_prompt(session=session, name=selected)
                versions = prompts.list_versions(session=session, name=selected)
                labels = prompts.labels_of(session=session, prompt_id=prompt.id)
                models = [f"{e.name}/{m}" for e in list_endpoints(session=session) for m in e.models or []]
        except WorkbenchError as exc:
            st.error(md_escape(str(exc)))
            replace_draft(selected, None)
            ss["prompts_selected"] = None
            prompt = None
        if prompt is not None:
            st.query_params["prompt"] = prompt.name
            latest = versions[-1] if versions else None
            tags = " ".join(f"`{t}`" for t in prompt.tags or [])
            lbl = ", ".join(f"{k} → v{v}" for k, v in labels.items())
            st.subheader(f"{md_escape(prompt.name)}  ·  v{latest.number if latest else '-'}")
            st.caption(" · ".join(x for x in (tags, md_escape(lbl), "archived" if prompt.archived else "") if x)
                       or "no tags or labels")
            if prompt.description:
                st.text(prompt.description)
            # state-backed tabs with stable labels: a select, promote or save keeps the person on their tab
            t_edit, t_versions, t_diff, t_labels, t_manage = st.tabs(
                ["Editor", "Versions", "Diff", "Labels", "Manage"], key="prompts_tab", on_change="rerun")
            with t_edit:
                if prompt.archived:
                    st.info("This prompt is archived: restore it (Manage tab) to save new versions.")
                if latest is not None:
                    base = get_draft(prompt.name, latest)
                    if base.get("base_version") not in (None, latest.number) and not prompt.archived:
                        st.caption(f"Your draft started from v{base['base_version']}; the newest is "
                                   f"v{latest.number}.")
                    render_editor(prompt.name, next((v for v in versions if v.number == base.get("base_version")),
                                                    latest), models)
            with t_versions:
                render_timeline(prompt.name, versions, labels, archived=prompt.archived)
            with t_diff:
                render_diff(prompt.name, versions)
            with t_labels:
                render_labels(prompt.name, versions, labels)
            with t_manage:
                render_manage(prompt)
    else:
        st.info("Pick a prompt on the left, or create a new one.")

# ---- the list
with left:
    st.button("New prompt", icon=":material/add:", type="primary", on_click=_new, width="stretch",
              key="prompts_new", disabled=not actor().can(PROMPT_WRITE))
    st.text_input("Search", key="prompts_q", placeholder="name or description", on_change=_filters_changed)
    with db.session_scope() as session:
        tag_options = ["(any tag)"] + prompts.all_tags(session=session)
        tag = st.selectbox("Tag", tag_options, key="prompts_tag", on_change=_filters_changed)
        archived = st.toggle("Show archived prompts only", key="prompts_archived", on_change=_filters_changed)
        rows, total = prompts.list_prompts(session=session, search=ss.get("prompts_q") or None,
                                           tag=None if tag == "(any tag)" else tag, sort="updated",
                                           page=ss["prompts_page"], page_size=PAGE_SIZE, archived_only=archived)
        if rows == [] and total and ss["prompts_page"] > 1:
            ss["prompts_page"] = 1
            rows, total = prompts.list_prompts(session=session, search=ss.get("prompts_q") or None,
                                               tag=None if tag == "(any tag)" else tag, page=1,
                                               page_size=PAGE_SIZE, archived_only=archived)
        info = prompts.summaries(session=session, prompt_ids=[p.id for p in rows])
    pages = max(1, -(-total // PAGE_SIZE))
    for p in rows:
        s = info.get(p.id, {})
        labels_txt = ", ".join(f"{k}→v{v}" for k, v in s.get("labels", {}).items())
        st.button(md_escape(p.name), key=f"prompts_pick_{p.id}", on_click=_select, args=(p.name,),
                  type="primary" if p.name == selected else "secondary", width="stretch",
                  help=f"v{s.get('latest')}" + (f" · {labels_txt}" if labels_txt else ""))
    if not rows:
        st.caption("No prompts match." if total == 0 else "")
    c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="center")
    c1.button("‹", key="prompts_prev", on_click=_turn, args=(-1,), disabled=ss["prompts_page"] <= 1,
              help="Previous page", width="stretch")
    c2.caption(f"Page {ss['prompts_page']} of {pages} · {total} prompts")
    c3.button("›", key="prompts_next", on_click=_turn, args=(1,), disabled=ss["prompts_page"] >= pages,
              help="Next page", width="stretch")
    with st.expander("Import JSON"):
        st.file_uploader("Exported prompt (.json)", type=["json"], key="prompts_import_file")
        st.text_area("...or paste the JSON", key="prompts_import_text", height=100)
        st.text_input("Import as (optional new name)", key="prompts_import_name")
        st.button("Import", key="prompts_import", on_click=_import, icon=":material/upload:")
