"""Playground view code: stream one call, image/PDF attachments, and continuing a conversation
(answer a tool call, send a new turn, save the thread as a version or a dataset row).

The thread is always the current run's messages plus its answer, so a run reopened from
History can be continued too; each new turn is a Run linked to the previous one (parent_run_id).
"""

from __future__ import annotations

import json
import time
from typing import Any

import streamlit as st

from lib import prompts as prompts_lib
from lib.client import get_client
from lib.datasets import import_dataset
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.evals import check
from lib.ui import md_escape
from pages._views import run_widgets as w
from pages._views.auth import actor
from pages._views.flash import flash, show_flashes

ss = st.session_state


def media_uploader(key: str, label: str = "Attach images or PDFs") -> tuple[list[prompts_lib.Media], bool]:
    """An uploader for images/PDFs, typed by content with a size cap; returns (attachments, any refused)."""
    files = st.file_uploader(label, accept_multiple_files=True, key=key,
                             help=f"PNG, JPEG, GIF, WEBP or PDF, up to {prompts_lib.MEDIA_MAX_BYTES // 2**20} MB "
                                  "each (the type is read from the file, not its name).")
    out, refused = [], False
    for f in files or []:
        try:
            m = prompts_lib.read_media(f.name, f.getvalue())
        except WorkbenchError as exc:
            w.lib_error(exc)
            refused = True
            continue
        out.append(m)
        st.caption(md_escape(f"{m.name}: {m.media_type}, {m.size_bytes:,} bytes"))
    return out, refused


def attach_to_last_user(messages: list[dict], media: list[prompts_lib.Media]) -> list[dict]:
    """The messages with the attachments added to the last user message (a new one if there is none)."""
    if not media:
        return messages
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return [*messages[:i], prompts_lib.with_media(messages[i], media), *messages[i + 1:]]
    return [*messages, prompts_lib.with_media({"role": "user", "content": ""}, media)]


def stream_call(engine: Any, **kw: Any) -> Any:
    """Stream one call into the page and return its RunResult (None if it could not start)."""
    placeholder = st.empty()
    placeholder.caption("Waiting for the first token...")
    try:
        stream = get_client(engine).stream_sync(actor=actor(), source="playground", **kw)
    except WorkbenchError as exc:
        placeholder.empty()
        w.lib_error(exc)
        return None
    text, last = "", 0.0
    for chunk in stream:
        text += chunk
        if time.monotonic() - last > 0.05:  # fewer, larger updates keep the browser responsive
            placeholder.code(text, language=None, wrap_lines=True)
            last = time.monotonic()
    placeholder.empty()
    return stream.result


def show_structured(text: str, params: dict | None) -> None:
    """With a JSON Schema response_format: the parsed answer and whether it matches the schema."""
    schema = prompts_lib.response_schema(params)
    if schema is None or not text:
        return
    verdict = check("json-schema", text, schema=schema)
    if verdict.passed:
        st.success(md_escape(f"Structured output: {verdict.reason}"), icon=":material/check_circle:")
    else:
        st.warning(md_escape(f"Structured output: {verdict.reason}"), icon=":material/warning:")
    try:
        parsed = json.loads(text)
    except ValueError:
        return  # the warning above already says it is not JSON
    with st.expander("Parsed answer", expanded=False):
        st.json(parsed)  # rendered as a JSON tree, never as markdown or HTML


def thread_of(run: Any) -> list[dict]:
    """The conversation so far: what the run sent, then its answer."""
    msgs = [dict(m) for m in (getattr(run, "messages", None) or [])]
    return [*msgs, prompts_lib.assistant_turn(run.output or "", getattr(run, "tool_calls", None),
                                              getattr(run, "thinking_blocks", None))]


def conversation(engine: Any, run: Any, *, version: Any, prompt_name: str | None, model: str, params: dict,
                 values: dict, can_call: bool) -> None:
    """Continue the conversation of `run`: answer its tool calls or send a new turn; save the thread."""
    show_flashes("play")
    if run is None or getattr(run, "status", "ok") != "ok" or not getattr(run, "messages", None):
        return
    thread = thread_of(run)
    st.subheader("Continue the conversation")
    with st.expander(f"Thread so far ({len(thread)} messages)", expanded=False):
        w.show_messages(thread)
    pending = prompts_lib.pending_calls(thread)
    new_thread = None
    if pending:
        st.caption("The model asked for tool results: type what each tool returned, then send them.")
        for c in pending:
            fn = c.get("function") or {}
            st.text_area(md_escape(f"Result of {fn.get('name', '?')} ({c.get('id')})"),
                         key=f"play_toolres_{run.id}_{c.get('id')}", height=80)
        if st.button("Send tool results", key="play_send_tools", type="primary", disabled=not can_call,
                     icon=":material/send:"):
            try:
                new_thread = thread
                for c in pending:
                    new_thread = prompts_lib.answer_tool(new_thread, c["id"],
                                                         ss.get(f"play_toolres_{run.id}_{c.get('id')}", ""))
            except WorkbenchError as exc:
                w.lib_error(exc)
                new_thread = None
    else:
        st.text_area("Next message", key=f"play_next_{run.id}", height=80)
        media, refused = media_uploader(f"play_next_media_{run.id}", "Attach images or PDFs to this message")
        if st.button("Send", key="play_send_next", type="primary", disabled=not can_call or refused,
                     icon=":material/send:"):
            try:
                new_thread = prompts_lib.add_user_turn(thread, ss.get(f"play_next_{run.id}", ""), media)
            except WorkbenchError as exc:
                w.lib_error(exc)
    if new_thread is not None:
        result = stream_call(engine, model=model, messages=new_thread, version=version, variables=values,
                             params=params, parent_run_id=run.id)
        if result is not None and result.run_id:
            ss["play_last_run"] = ss["play_opened"] = result.run_id
            st.query_params["run"] = str(result.run_id)
            if not result.ok:
                flash("play", "error", f"The call failed: {result.error_kind}: {result.error_message}")
            st.rerun()
    _save_thread(engine, thread, prompt_name=prompt_name if version is not None else None, model=model,
                 params=params, values=values, run_id=run.id)


def _save_thread(engine: Any, thread: list[dict], *, prompt_name: str | None, model: str, params: dict,
                 values: dict, run_id: int) -> None:
    with st.expander("Save this thread"):
        c1, c2 = st.columns(2)
        with c1:
            if prompt_name is None:
                st.caption("Pick a saved prompt to save the thread as one of its versions.")
            elif st.button("Save as a new version", key="play_save_thread_version"):
                name = prompt_name
                try:
                    with session_scope(engine) as session:
                        v, created = prompts_lib.save_version(actor=actor(),
                            session=session, name=name, messages=prompts_lib.thread_messages(thread),
                            model=model or None, params=params, commit_message=f"conversation from run #{run_id}")
                        label = f"{name}:{v.number}"
                    st.success(md_escape(f"Saved {label}." if created else f"Same as {label}: nothing new saved."))
                except WorkbenchError as exc:
                    w.lib_error(exc)
        with c2:
            ss.setdefault("play_thread_dataset", "conversations")
            ds_name = st.text_input("Dataset name", key="play_thread_dataset")
            if st.button("Save as a dataset row", key="play_save_thread_row"):
                try:
                    row = prompts_lib.thread_row(thread, values)
                    with session_scope(engine) as session:
                        ds = import_dataset(actor=actor(), session=session, data=prompts_lib.rows_jsonl([row]),
                                            filename="conversation.jsonl", name=ds_name)
                        stored = ds.name
                    st.success(md_escape(f"Saved as dataset {stored!r} (columns: {', '.join(row)}); feed its "
                                         "history to a prompt with a placeholder message."))
                except WorkbenchError as exc:
                    w.lib_error(exc)

