"""Prompts page, part 1: the draft editor (messages, format, model, parameters, variables, save).

The draft of each prompt lives in st.session_state["prompts_drafts"][name] (a plain dict,
not a widget key), so unsaved edits survive switching pages: Streamlit drops the keys
of widgets that are not drawn, and this module re-seeds them from the draft.
"""

from __future__ import annotations

import streamlit as st

from lib import db, prompts
from lib.errors import WorkbenchError
from lib.identity import PROMPT_WRITE
from lib.prompts import FORMATS as templating_FORMATS
from lib.prompts import variables
from lib.ui import (
    ALL_ROLES,
    ROLES,
    blank_draft,
    draft_from_version,
    draft_messages,
    is_dirty,
    md_escape,
    move,
    new_message,
    parse_params,
    parse_tags,
)
from pages._views.auth import actor
from pages._views.flash import flash

NEW = "__new__"
PAGE = "prompts"  # flash-message page key
FORMATS = list(templating_FORMATS)


def drafts() -> dict:
    """Every open draft, by prompt name (NEW for a prompt not created yet)."""
    return st.session_state.setdefault("prompts_drafts", {})


def get_draft(dk: str, version=None) -> dict:
    """The draft for `dk`, started from `version` (or blank) the first time."""
    store = drafts()
    if dk not in store:
        store[dk] = draft_from_version(version) if version is not None else blank_draft()
        if dk == NEW:
            store[dk].update(name="", description="", tags="")
    return store[dk]


def _k(dk: str, field: str) -> str:
    return f"prompts_{field}_{dk}"


def _seed(key: str, value) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def sync_from_widgets(dk: str) -> dict:
    """Copy the latest widget values into the draft (callbacks run before the widgets are redrawn)."""
    d = drafts().get(dk)
    if d is None:
        return {}
    ss = st.session_state
    for m in d["messages"]:
        m["role"] = ss.get(f"prompts_role_{m['uid']}", m["role"])
        m["content"] = ss.get(f"prompts_msg_{m['uid']}", m["content"])
    for field, dkey in (("fmt", "template_format"), ("model", "model"), ("params", "params_text"),
                        ("commit", "commit_message"), ("name", "name"), ("desc", "description"), ("tags", "tags")):
        if _k(dk, field) in ss:
            d[dkey] = ss[_k(dk, field)]
    return d


def _forget_widgets(d: dict, dk: str) -> None:
    for m in d.get("messages", []):
        st.session_state.pop(f"prompts_role_{m['uid']}", None)
        st.session_state.pop(f"prompts_msg_{m['uid']}", None)
    for field in ("fmt", "model", "params", "commit", "name", "desc", "tags"):
        st.session_state.pop(_k(dk, field), None)


def replace_draft(dk: str, new: dict | None) -> None:
    """Swap a draft (or drop it with None) and forget the widget values drawn from the old one."""
    old = drafts().pop(dk, None)
    if old:
        _forget_widgets(old, dk)
    if new is not None:
        drafts()[dk] = new


# ---------------------------------------------------------------- callbacks

def _add(dk: str, role: str) -> None:
    sync_from_widgets(dk)["messages"].append(new_message(role, ""))


def _remove(dk: str, uid: str) -> None:
    d = sync_from_widgets(dk)
    if len(d["messages"]) <= 1:
        flash(PAGE, "warning", "A prompt needs at least one message.")
        return
    d["messages"] = [m for m in d["messages"] if m["uid"] != uid]


def _move(dk: str, uid: str, delta: int) -> None:
    d = sync_from_widgets(dk)
    idx = next((i for i, m in enumerate(d["messages"]) if m["uid"] == uid), -1)
    move(d["messages"], idx, delta)


def _checked_params(text: str) -> dict:
    """The parameters JSON, with tools / tool_choice / response_format checked (errors give the line in `text`)."""
    params = parse_params(text)
    return prompts.validate_modern_params(params, {k: text for k in ("tools", "response_format")})


def _discard(dk: str) -> None:
    replace_draft(dk, None)
    flash(PAGE, "info", "Draft discarded.")


def _save(dk: str) -> None:
    d = sync_from_widgets(dk)
    try:
        params = _checked_params(d.get("params_text", ""))
    except (ValueError, WorkbenchError) as exc:
        flash(PAGE, "error", str(exc))
        return
    try:
        with db.session_scope() as session:
            if dk == NEW:
                v = prompts.create_prompt(actor=actor(), session=session, name=d.get("name", ""),
                                          messages=draft_messages(d),
                                          template_format=d["template_format"], description=d.get("description", ""),
                                          tags=parse_tags(d.get("tags", "")), model=d.get("model") or None,
                                          params=params, commit_message=d.get("commit_message", ""))
                name, created = prompts.validate_name(d.get("name", "")), True
            else:
                name = dk
                v, created = prompts.save_version(actor=actor(), session=session, name=dk, messages=draft_messages(d),
                                                  template_format=d["template_format"],
                                                  model=d.get("model") or None, params=params,
                                                  commit_message=d.get("commit_message", ""))
            fresh = draft_from_version(v)
    except WorkbenchError as exc:
        flash(PAGE, "error", str(exc))
        return
    replace_draft(dk, None)
    replace_draft(name, fresh)
    st.session_state["prompts_selected"] = name
    if created:
        flash(PAGE, "success", f"Saved {name} v{v.number}.")
    else:
        flash(PAGE, "info", f"No changes: the draft is identical to v{v.number}, so no new version was made.")


# ---------------------------------------------------------------- drawing

def _message_row(dk: str, i: int, n: int, m: dict) -> None:
    uid = m["uid"]
    _seed(f"prompts_role_{uid}", m["role"])
    _seed(f"prompts_msg_{uid}", m["content"])
    head = st.columns([2.2, 1, 1.1, 1.2], vertical_alignment="bottom")
    m["role"] = head[0].selectbox(f"Message {i + 1} role", ALL_ROLES, key=f"prompts_role_{uid}")
    head[1].button("Up", key=f"prompts_up_{uid}", icon=":material/arrow_upward:", disabled=i == 0,
                   on_click=_move, args=(dk, uid, -1), width="stretch")
    head[2].button("Down", key=f"prompts_down_{uid}", icon=":material/arrow_downward:", disabled=i == n - 1,
                   on_click=_move, args=(dk, uid, 1), width="stretch")
    head[3].button("Remove", key=f"prompts_rm_{uid}", icon=":material/delete:", disabled=n <= 1,
                   on_click=_remove, args=(dk, uid), width="stretch")
    m["content"] = st.text_area(f"Message {i + 1} content", key=f"prompts_msg_{uid}", height=140,
                                label_visibility="collapsed",
                                placeholder="Message text; use {{ variable }} for inputs"
                                if m["role"] != "placeholder" else "Name of the variable holding a JSON list "
                                "of messages (the conversation history)")
    if m.get("parts"):
        st.caption("Content parts (text, image_url, file) as JSON: only text parts are templated.")
    for call in (m.get("extra") or {}).get("tool_calls") or []:
        fn = call.get("function") or {}
        st.caption(md_escape(f"Tool call {call.get('id')}: {fn.get('name')}({fn.get('arguments', '')})"))
    if (m.get("extra") or {}).get("tool_call_id"):
        st.caption(md_escape(f"Answers tool call {m['extra']['tool_call_id']}"))


def render_editor(dk: str, version=None, known_models: list[str] | None = None) -> None:
    """The editor for prompt `dk` (NEW for a new prompt) starting from `version`."""
    get_draft(dk, version)
    d = sync_from_widgets(dk)  # this run's widget values, so the checks below see the latest text
    if dk == NEW:
        for field, dkey in (("name", "name"), ("desc", "description"), ("tags", "tags")):
            _seed(_k(dk, field), d.get(dkey, ""))
        c1, c2 = st.columns(2)
        d["name"] = c1.text_input("Name", key=_k(dk, "name"), placeholder="e.g. support-reply",
                                  help="Letters, digits, '.', '_' or '-'; no spaces.")
        d["tags"] = c2.text_input("Tags (comma-separated)", key=_k(dk, "tags"))
        d["description"] = st.text_input("Description", key=_k(dk, "desc"))
    elif is_dirty(d, version):
        st.warning(f"Unsaved changes (started from v{d.get('base_version')}). They are kept while you "
                   "visit other pages; save them as a new version or discard them.", icon=":material/edit:")
    msgs = d["messages"]
    for i, m in enumerate(list(msgs)):
        with st.container(border=True):
            _message_row(dk, i, len(msgs), m)
    add = st.columns(3)
    for col, role in zip(add, ROLES, strict=True):
        col.button(f"Add {role} message", key=f"prompts_add_{role}_{dk}", icon=":material/add:",
                   on_click=_add, args=(dk, role), width="stretch")

    _seed(_k(dk, "fmt"), d["template_format"])
    _seed(_k(dk, "model"), d["model"])
    _seed(_k(dk, "params"), d["params_text"])
    c1, c2 = st.columns(2)
    d["template_format"] = c1.selectbox("Template format", FORMATS, key=_k(dk, "fmt"),
                                        help="mustache: {{ name }} placeholders. jinja2: sandboxed Jinja.")
    d["model"] = c2.text_input("Default model (endpoint/model)", key=_k(dk, "model"), placeholder="echo/echo")
    if known_models:
        c2.caption("Known: " + md_escape(", ".join(known_models[:12])))
    d["params_text"] = st.text_area("Parameters (JSON object)", key=_k(dk, "params"), height=90,
                                    help='Sampling parameters, and tools / tool_choice / response_format '
                                         '(JSON Schema), e.g. {"tools": [{"type": "function", "function": '
                                         '{"name": "lookup", "parameters": {"type": "object"}}}]}')
    try:
        _checked_params(d["params_text"])
    except (ValueError, WorkbenchError) as exc:
        st.error(md_escape(str(exc)))

    try:
        names = variables(draft_messages(d), d["template_format"])
    except WorkbenchError as exc:
        st.error(md_escape(f"Template error: {exc}"), icon=":material/error:")
    else:
        st.markdown("**Variables:** " + (", ".join(f"`{n}`" for n in names) if names else "none"))

    _seed(_k(dk, "commit"), d.get("commit_message", ""))
    c1, c2, c3 = st.columns([2.4, 1.3, 1.2], vertical_alignment="bottom")
    d["commit_message"] = c1.text_input("Commit message", key=_k(dk, "commit"),
                                        placeholder="What changed and why")
    may_save = actor().can(PROMPT_WRITE)  # lib refuses too; this only hides what the role cannot do
    c2.button("Create prompt" if dk == NEW else "Save version", key=f"prompts_save_{dk}", type="primary",
              icon=":material/save:", on_click=_save, args=(dk,), width="stretch", disabled=not may_save,
              help=None if may_save else "Your role can read prompts but not save them")
    c3.button("Discard draft", key=f"prompts_discard_{dk}", on_click=_discard, args=(dk,), width="stretch")
    if dk != NEW and is_dirty(d, version):
        st.caption(":material/edit: Unsaved changes: Save version keeps them as a new version.")
