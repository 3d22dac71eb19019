"""Prompts page, part 2: version timeline, diff, labels (promote / roll back) and management."""

from __future__ import annotations

import functools
import json

import pandas as pd
import streamlit as st

from lib import db, prompts
from lib.errors import WorkbenchError
from lib.identity import LABEL_MOVE, LABEL_MOVE_PROTECTED, PROMPT_WRITE
from lib.prompts import diff_versions, dumps, export_prompt, is_protected
from lib.ui import draft_from_version, is_dirty, md_escape, parse_tags, text_or_dash, when_utc
from pages._views.auth import actor
from pages._views.flash import flash
from pages._views.prompt_editor import PAGE, replace_draft, sync_from_widgets
from pages._views.run_widgets import show_messages

STANDARD_LABELS = ["production", "staging"]


def render_timeline(name: str, versions: list, labels: dict[str, int], *, archived: bool = False) -> None:
    """Versions newest first with author, time, message and labels; any version viewed read-only, restored
    as the draft or opened in the Playground."""
    by_number: dict[int, list[str]] = {}
    for label, number in labels.items():
        by_number.setdefault(number, []).append(label)
    rows = [{"version": v.number, "labels": ", ".join(sorted(by_number.get(v.number, []))),
             "author": v.author, "time": when_utc(v.created_at), "message": v.commit_message,
             "model": v.model or "", "variables": ", ".join(v.variables or [])} for v in reversed(versions)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 400))
    if not versions:
        return
    numbers = [v.number for v in reversed(versions)]
    tags = {n: f"v{n}" + (f" ({', '.join(sorted(by_number[n]))})" if n in by_number else "") for n in numbers}
    key = f"prompts_view_{name}"
    if st.session_state.get(key) not in numbers:
        st.session_state[key] = numbers[0]
    pick = st.selectbox("View version", numbers, key=key, format_func=tags.get)
    v = next(x for x in versions if x.number == pick)
    with st.container(border=True, key="prompts_version_view"):
        st.caption(md_escape(f"v{v.number} · read-only · {v.author or 'unknown author'} · {when_utc(v.created_at)}"))
        if v.commit_message:
            st.text(v.commit_message)
        st.text(f"Format: {v.template_format} · model: {v.model or 'none'}")
        if v.params:
            st.code(json.dumps(v.params, indent=2, sort_keys=True, default=str), language="json")
        show_messages(v.messages)
    c1, c2, _ = st.columns([1, 1, 2])
    can_write = actor().can(PROMPT_WRITE) and not archived
    c1.button("Restore as draft", key=f"prompts_restore_v_{name}", icon=":material/restore:", on_click=_restore,
              args=(name, v), disabled=not can_write, width="stretch",
              help="Puts this version's content in the editor as your draft; save it to make it the newest version."
              if can_write else "Your role cannot edit prompts." if not archived else "Restore the prompt first.")
    if c2.button("Open in Playground", key=f"prompts_play_v_{name}", icon=":material/play_circle:",
                 on_click=_open_in_playground, args=(name, v.number), width="stretch"):
        st.switch_page("pages/playground.py")


def _restore(name: str, version) -> None:
    """The version's content becomes the draft (the editor shows it; nothing is saved yet)."""
    draft = draft_from_version(version)
    draft["commit_message"] = f"restore v{version.number}"
    replace_draft(name, draft)
    st.session_state["prompts_tab"] = "Editor"
    flash(PAGE, "info", f"v{version.number} is now your draft: save it to make it the newest version.")


def _open_in_playground(name: str, number: int) -> None:
    st.session_state.update(play_source="Saved prompt", play_prompt=name, play_ref=f"{name}:{number}")


def render_diff(name: str, versions: list) -> None:
    """Pick two versions and show what changed, by line (unified diff) or by word."""
    if len(versions) < 2:
        st.info("Only one version so far: save another version to compare.")
        return
    numbers = [v.number for v in versions]
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    a = c1.selectbox("From version", numbers, index=len(numbers) - 2, key=f"prompts_diff_a_{name}_{len(numbers)}")
    b = c2.selectbox("To version", numbers, index=len(numbers) - 1, key=f"prompts_diff_b_{name}_{len(numbers)}")
    by = c3.segmented_control("Show changes by", ["lines", "words"], key="prompts_diff_by", default="lines",
                              required=True)
    va, vb = versions[numbers.index(a)], versions[numbers.index(b)]
    d = diff_versions(va, vb)
    st.text(d.summary())
    if not d.identical:
        if by == "words":
            st.caption("[-removed-] {+added+}")
            st.code(d.words, language=None, wrap_lines=True)
        else:
            st.code(d.text, language="diff", wrap_lines=True)


def _chosen_label(name: str) -> str:
    ss = st.session_state
    label = ss.get(f"prompts_lbl_{name}")
    if label == "custom...":
        label = (ss.get(f"prompts_lbl_custom_{name}") or "").strip()
    return label or ""


def _promote(name: str, version_key: str) -> None:
    _move(name, _chosen_label(name), st.session_state.get(version_key))


def _move(name: str, label: str, version) -> None:
    try:
        with db.session_scope() as session:
            prompts.set_label(actor=actor(), session=session, name=name, label=label or "", version=int(version))
    except (WorkbenchError, TypeError, ValueError) as exc:
        flash(PAGE, "error", str(exc))
        return
    flash(PAGE, "success", f"{label} now points at {name} v{version}.")


def _rollback(name: str) -> None:
    label = st.session_state.get(f"prompts_rb_{name}")
    try:
        with db.session_scope() as session:
            row = prompts.rollback(actor=actor(), session=session, name=name, label=label or "")
            number = prompts.get_version_by_id(session=session, version_id=row.version_id).number
    except WorkbenchError as exc:
        flash(PAGE, "error", str(exc))
        return
    flash(PAGE, "success", f"Rolled {label} back to v{number}.")


def _close_confirm(name: str) -> None:
    st.session_state.pop(f"prompts_confirm_{name}", None)


def _open_confirm(name: str, versions: list, labels: dict[str, int]) -> None:
    """The confirmation of a protected move; kept open across reruns (its state) until Move, Cancel or dismiss."""
    st.dialog("Move a protected label", width="large", on_dismiss=functools.partial(_close_confirm, name))(
        _confirm_body)(name, versions, labels)


def _confirm_body(name: str, versions: list, labels: dict[str, int]) -> None:
    """The diff between the version the label holds now and the new one, then Move or Cancel."""
    label, target = st.session_state[f"prompts_confirm_{name}"]
    by_number = {v.number: v for v in versions}
    current = labels.get(label)
    st.markdown(f"**{label}** is protected: apps that fetch `{name}@{label}` get the new version at once.")
    if current is None:
        st.write(f"{label} is not set yet; it will point at v{target}.")
    elif current == target:
        st.info(f"{label} already points at v{target}.")
    else:
        d = diff_versions(by_number[current], by_number[target])
        st.write(f"v{current} → v{target}: {d.summary()}")
        if not d.identical:
            st.code(d.text, language="diff", wrap_lines=True)
    c1, c2 = st.columns(2)
    if c1.button(f"Move {label} to v{target}", type="primary", key="prompts_protected_confirm", width="stretch"):
        _close_confirm(name)
        _move(name, label, target)
        st.rerun()
    if c2.button("Cancel", key="prompts_protected_cancel", width="stretch"):
        _close_confirm(name)
        st.rerun()


def render_labels(name: str, versions: list, labels: dict[str, int]) -> None:
    """Current labels, promote a version, roll a label back, and the label history."""
    if labels:
        st.markdown("  \n".join(f"**{lb}** → v{n}" for lb, n in labels.items()))
    else:
        st.caption("No labels yet. Promote a version to production or staging.")
    me = actor()
    if not me.can(LABEL_MOVE):
        st.caption("Your role can view labels but not move them.")
        _label_history(name)
        return
    numbers = [v.number for v in versions]
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    # keyed by the newest number so a freshly saved version is what Promote offers first
    version_key = f"prompts_lbl_v_{name}_{numbers[-1]}"
    c1.selectbox("Version", list(reversed(numbers)), key=version_key)
    choice = c2.selectbox("Label", STANDARD_LABELS + sorted(set(labels) - set(STANDARD_LABELS)) + ["custom..."],
                          key=f"prompts_lbl_{name}")
    c3.text_input("Custom label", key=f"prompts_lbl_custom_{name}", disabled=choice != "custom...",
                  placeholder="e.g. canary")
    label = _chosen_label(name)
    protected, allowed = is_protected(label), me.can(LABEL_MOVE_PROTECTED)
    if c4.button("Promote", key=f"prompts_promote_{name}", type="primary", icon=":material/rocket_launch:",
                 width="stretch", disabled=protected and not allowed,
                 help=f"{label} is protected: only admins can move it" if protected and not allowed else None):
        if protected:
            st.session_state[f"prompts_confirm_{name}"] = (label, int(st.session_state.get(version_key)))
            _open_confirm(name, versions, labels)
        else:
            _promote(name, version_key)
            st.rerun()
    elif st.session_state.get(f"prompts_confirm_{name}"):  # the dialog stays open while it is answered
        _open_confirm(name, versions, labels)
    if protected and not allowed:
        st.caption(f"**{label}** is protected: only admins can move it.")
    movable = sorted(lb for lb in labels if allowed or not is_protected(lb))
    if movable:
        r1, r2 = st.columns([2, 1], vertical_alignment="bottom")
        rb = r1.selectbox("Roll back label", movable, key=f"prompts_rb_{name}",
                          help="Moves the label back to the version it pointed at before its last move.")
        with db.session_scope() as session:
            target = prompts.rollback_target(session=session, name=name, label=rb)
        why = None if target is not None else f"{rb} has no earlier version: it has only been set once."
        r2.button(f"Roll back to v{target}" if target is not None else "Roll back", key=f"prompts_rollback_{name}",
                  icon=":material/undo:", on_click=_rollback, args=(name,), width="stretch",
                  disabled=target is None, help=why)
        if why:
            st.caption(why)
    _label_history(name)


KIND_TEXT = {"promote": "promote", "rollback": "rollback ↩", "remove": "removed"}


def _label_history(name: str) -> None:
    with db.session_scope() as session:
        events = prompts.label_history(session=session, name=name)[:50]
    if events:
        st.caption("Label history (newest first)")
        st.dataframe(pd.DataFrame([{"label": e.label, "move": KIND_TEXT.get(e.kind, e.kind),
                                    "from": text_or_dash(e.from_version), "to": text_or_dash(e.to_version),
                                    "author": e.author, "time": when_utc(e.created_at)} for e in events]),
                     hide_index=True, width="stretch")


def _update_meta(name: str) -> None:
    ss = st.session_state
    try:
        with db.session_scope() as session:
            prompts.update_prompt(actor=actor(), session=session, name=name,
                                  description=ss.get(f"prompts_meta_desc_{name}", ""),
                                  tags=parse_tags(ss.get(f"prompts_meta_tags_{name}", "")))
    except WorkbenchError as exc:
        flash(PAGE, "error", str(exc))
        return
    flash(PAGE, "success", "Description and tags saved.")


def _duplicate(name: str) -> None:
    new_name = (st.session_state.get(f"prompts_dup_{name}") or "").strip()
    try:
        with db.session_scope() as session:
            prompts.duplicate(actor=actor(), session=session, name=name, new_name=new_name)
    except WorkbenchError as exc:
        flash(PAGE, "error", str(exc))
        return
    st.session_state["prompts_selected"] = new_name
    flash(PAGE, "success", f"Copied {name} to {new_name}.")


def _archive(name: str, archived: bool) -> None:
    try:
        with db.session_scope() as session:
            prompts.set_archived(actor=actor(), session=session, name=name, archived=archived)
    except WorkbenchError as exc:
        flash(PAGE, "error", str(exc))
        return
    # The draft is kept (it used to be dropped here, losing typed edits): restore the prompt to save it.
    dirty = archived and name in st.session_state.get("prompts_drafts", {}) and _draft_is_dirty(name)
    flash(PAGE, "success", f"{'Archived' if archived else 'Restored'} {name}."
          + (" Your unsaved draft is kept: restore the prompt to save it." if dirty else ""))


def _draft_is_dirty(name: str) -> bool:
    """Whether the open draft of `name` holds edits that no version has."""
    d = sync_from_widgets(name)
    try:
        with db.session_scope() as session:
            versions = prompts.list_versions(session=session, name=name)
            base = next((v for v in versions if v.number == d.get("base_version")), versions[-1] if versions else None)
            return is_dirty(d, base)
    except WorkbenchError:
        return False


def render_manage(prompt) -> None:
    """Description and tags, duplicate, archive or restore, export JSON."""
    name = prompt.name
    st.session_state.setdefault(f"prompts_meta_desc_{name}", prompt.description or "")
    st.session_state.setdefault(f"prompts_meta_tags_{name}", ", ".join(prompt.tags or []))
    st.text_input("Description", key=f"prompts_meta_desc_{name}")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input("Tags (comma-separated)", key=f"prompts_meta_tags_{name}")
    c2.button("Save details", key=f"prompts_meta_save_{name}", on_click=_update_meta, args=(name,), width="stretch")

    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input("Duplicate as", key=f"prompts_dup_{name}", placeholder=f"{name}-copy")
    c2.button("Duplicate", key=f"prompts_dup_btn_{name}", icon=":material/content_copy:", on_click=_duplicate,
              args=(name,), width="stretch")

    c1, c2 = st.columns(2)
    if prompt.archived:
        c1.button("Restore", key=f"prompts_restore_{name}", icon=":material/unarchive:", on_click=_archive,
                  args=(name, False), width="stretch")
    else:
        c1.button("Archive", key=f"prompts_archive_{name}", icon=":material/archive:", on_click=_archive,
                  args=(name, True), width="stretch", help="Hidden from lists; nothing is deleted.")
    with db.session_scope() as session:
        data = dumps(export_prompt(session=session, name=name))
    c2.download_button("Export JSON", data=data, file_name=f"{name}.prompt.json", mime="application/json",
                       key=f"prompts_export_{name}", icon=":material/download:", width="stretch")
