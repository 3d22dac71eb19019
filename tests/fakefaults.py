"""Scripted faults for the fake provider (tests/fakeserver.py): `Fault` (what the next matching request
gets), `Recorded` (one request as the server saw it), and what a fault makes an answer say (`answer_text`,
`openai_tool_calls`, `args_text`), shared by the live routes and the batch routes (tests/fake_batch_api.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """What the next matching request gets; the defaults give a normal answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes | None = None  # raw body instead of the normal JSON
    hang_s: float = 0.0  # sleep before sending anything
    delay_s: float = 0.0  # latency before a normal answer
    drip_s: float = 0.0  # after 200 headers, send one byte every 0.2 s for this long
    cut_after: int | None = None  # stream: close after this many text chunks, before the terminal event
    error_event: bool = False  # stream: an error event after HTTP 200
    stall_after: int | None = None  # stream (OpenAI): after this many text chunks, go silent for stall_s
    stall_s: float = 0.0
    text: str | None = None  # answer text (default: "echo: <last user message>")
    usage: bool = True  # include usage
    path: str | None = None  # only match this path
    tool_calls: list[dict] | None = None  # [{"name", "arguments" (dict or JSON text), "id"?}]: a tool-call reply
    reasoning: str | None = None  # reasoning text (OpenAI `reasoning_content`, Anthropic thinking block)
    reasoning_tokens: int | None = None  # OpenAI usage.completion_tokens_details.reasoning_tokens


@dataclass
class Recorded:
    """One request as the server saw it."""

    t: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def args_text(call: dict) -> str:
    """A tool call's arguments as JSON text (they may be given as a dict or as text)."""
    args = call.get("arguments", {})
    return args if isinstance(args, str) else json.dumps(args)


def openai_tool_calls(fault: Fault) -> list[dict]:
    """The fault's tool calls in OpenAI's message shape."""
    return [{"id": c.get("id", f"call_{i}"), "type": "function",
             "function": {"name": c["name"], "arguments": args_text(c)}} for i, c in enumerate(fault.tool_calls or [])]


def answer_text(body: Any, fault: Fault) -> str:
    """The answer: the fault's text, '' for a tool-call reply, or 'echo: ' + the last user message."""
    if fault.text is not None:
        return fault.text
    if fault.tool_calls:
        return ""
    msgs = (body or {}).get("messages") or []
    last = next((m.get("content") for m in reversed(msgs) if m.get("role") in ("user", "tool")), None)
    if isinstance(last, list):  # content parts: their text (Anthropic tool results and images included)
        last = " ".join(str(p.get("text") or p.get("content") or f"[{p.get('type')}]") for p in last
                        if isinstance(p, dict))
    if last is None:
        last = (body or {}).get("prompt", "")
    return f"echo: {last}"
