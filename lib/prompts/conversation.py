"""A conversation thread continued turn by turn (the Playground's): the rendered prompt, then each
answer (text and tool calls), tool results and new user turns, as OpenAI chat messages.

A thread is a plain list of messages; these helpers add turns to it and turn it into what can be
saved: a prompt version (the thread as its messages) or a dataset row (the history as JSON, for a
prompt with a `placeholder` message).
"""

from __future__ import annotations

import json
from typing import Any

from lib.errors import ValidationError

from .content import validate_message
from .media import Media, with_media


def assistant_turn(text: str, tool_calls: list[dict] | None = None,
                   thinking_blocks: list[dict] | None = None) -> dict:
    """The answer as an assistant message (content null when it is only tool calls, as OpenAI wants).

    With tool calls, Anthropic's signed `thinking_blocks` ride along unchanged: the next turn must
    send them back (the Anthropic provider puts them first; others drop them)."""
    msg: dict[str, Any] = {"role": "assistant", "content": text if text or not tool_calls else None}
    if tool_calls:
        msg["tool_calls"] = [dict(c) for c in tool_calls]
        if thinking_blocks:
            msg["thinking_blocks"] = [dict(b) for b in thinking_blocks]
    return msg


def pending_calls(thread: list[dict]) -> list[dict]:
    """Tool calls of the last assistant turn that no tool message has answered yet."""
    answered = set()
    for m in reversed(thread):
        if m.get("role") == "tool":
            answered.add(m.get("tool_call_id"))
        elif m.get("role") == "assistant":
            return [c for c in m.get("tool_calls") or [] if c.get("id") not in answered]
        else:
            return []
    return []


def answer_tool(thread: list[dict], call_id: str, result: str) -> list[dict]:
    """The thread with a tool result answering `call_id` (ValidationError if no such call is pending)."""
    if call_id not in {c.get("id") for c in pending_calls(thread)}:
        raise ValidationError(f"tool call {call_id!r} is not waiting for an answer")
    if not str(result).strip():
        raise ValidationError(f"tool call {call_id!r}: type the tool's result first")
    return [*thread, {"role": "tool", "tool_call_id": call_id, "content": str(result)}]


def add_user_turn(thread: list[dict], text: str, media: list[Media] | None = None) -> list[dict]:
    """The thread with a new user message (attachments as parts)."""
    if not text.strip() and not media:
        raise ValidationError("the next message is empty: type something or attach a file")
    if pending_calls(thread):
        raise ValidationError("answer the pending tool call(s) before sending a new message")
    return [*thread, with_media({"role": "user", "content": text}, media or [])]


def can_continue(thread: list[dict]) -> bool:
    """Whether the thread ends where the model speaks next (after a user turn or all tool results)."""
    return bool(thread) and thread[-1].get("role") in ("user", "tool") and not pending_calls(thread)


def thread_messages(thread: list[dict]) -> list[dict]:
    """The thread checked as version messages (raises ValidationError naming the message)."""
    return [validate_message(m, i) for i, m in enumerate(thread)]


def thread_row(thread: list[dict], variables: dict | None = None, history_column: str = "history") -> dict:
    """A dataset row: the run's variables, the thread up to the last answer as JSON under `history_column`,
    and that answer's text as `expected`."""
    msgs = thread_messages(thread)
    last = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i]["role"] == "assistant"), None)
    history, expected = (msgs[:last], msgs[last].get("content") or "") if last is not None else (msgs, "")
    row = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in (variables or {}).items()}
    row[history_column] = json.dumps(history, ensure_ascii=False)
    row["expected"] = expected if isinstance(expected, str) else json.dumps(expected, ensure_ascii=False)
    return row


def rows_jsonl(rows: list[dict]) -> bytes:
    """Rows as JSONL bytes (what the dataset importer reads)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
