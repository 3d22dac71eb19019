"""Translation between the workbench's OpenAI-shaped requests and Anthropic's Messages API.

Requests: system messages split out; `tool` messages become `tool_result` blocks in a user turn;
assistant `tool_calls` become `tool_use` blocks; content parts (`text`, `image_url` with an https
or data URL, a PDF `file` part) become `text` / `image` / `document` blocks; consecutive turns of
the same role are merged (the API wants them alternating).  Tools become `{name, description,
input_schema}`, `tool_choice` maps to `auto` / `any` / `tool` / `none`.  Extended thinking comes
from `thinking_budget` (or `reasoning_effort`), and drops temperature/top_k as the API requires.
A JSON Schema `response_format` becomes a forced tool whose input is read back as the answer.

Responses: `text` blocks are the answer, `thinking` blocks the reasoning, `tool_use` blocks the
tool calls (returned in the OpenAI shape `{id, type: "function", function: {name, arguments}}`).
The `thinking` / `redacted_thinking` blocks are also kept verbatim with their signatures
(`signed_blocks`): with thinking on, the assistant turn whose tool calls are answered must start with
them, unchanged. They travel on that assistant message as `thinking_blocks` (LiteLLM's name) and are
put back first in its content; other kinds never see them.
"""

from __future__ import annotations

import json
from typing import Any

from lib.errors import BadRequestError

DEFAULT_MAX_TOKENS = 1024
STRUCTURED_TOOL = "structured_output"
# reasoning_effort -> thinking budget when no explicit budget is given (minimum budget is 1024)
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
_UNSUPPORTED = ("presence_penalty", "frequency_penalty", "seed", "response_format", "tools", "tool_choice",
                "parallel_tool_calls", "reasoning_effort", "thinking_budget", "max_completion_tokens", "n",
                "logprobs", "top_logprobs", "stream_options")


def _text_of(content: Any) -> str:
    """The text of a content value (a string, or the text parts of a list)."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def _data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:...;base64,` URL, else None."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return head or "application/octet-stream", data


def _block(part: Any) -> dict[str, Any]:
    """One OpenAI content part as an Anthropic content block."""
    if not isinstance(part, dict):
        return {"type": "text", "text": str(part)}
    ptype = part.get("type")
    if ptype == "text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if ptype == "image_url":
        url = str((part.get("image_url") or {}).get("url", "")) if isinstance(part.get("image_url"), dict) \
            else str(part.get("image_url") or "")
        data = _data_url(url)
        if data:
            return {"type": "image", "source": {"type": "base64", "media_type": data[0], "data": data[1]}}
        return {"type": "image", "source": {"type": "url", "url": url}}
    if ptype == "file":
        file = part.get("file") or {}
        data = _data_url(str(file.get("file_data", "")))
        if data:
            return {"type": "document", "source": {"type": "base64", "media_type": data[0], "data": data[1]}}
        if file.get("url"):
            return {"type": "document", "source": {"type": "url", "url": str(file["url"])}}
        raise BadRequestError("a file part needs file.file_data as a data URL (or file.url)")
    raise BadRequestError(f"content part type {ptype!r} is not supported by Anthropic")


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [_block(p) for p in content]
    text = "" if content is None else str(content)
    return [{"type": "text", "text": text}] if text else []


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            args = {"_raw": args}
    return {"type": "tool_use", "id": str(call.get("id") or ""), "name": str(fn.get("name") or ""),
            "input": args if isinstance(args, dict) else {"value": args}}


THINKING_TYPES = ("thinking", "redacted_thinking")


def signed_blocks(blocks: list[Any]) -> list[dict[str, Any]] | None:
    """The thinking / redacted_thinking blocks of a reply, exactly as sent (signature and data included)."""
    out = [dict(b) for b in blocks if isinstance(b, dict) and b.get("type") in THINKING_TYPES]
    return out or None


def _thinking_of(message: dict) -> list[dict[str, Any]]:
    blocks = message.get("thinking_blocks")
    if not isinstance(blocks, list):
        return []
    return [dict(b) for b in blocks if isinstance(b, dict) and b.get("type") in THINKING_TYPES]


def convert_messages(messages: list[dict]) -> tuple[str | None, list[dict]]:
    """(system text, Anthropic messages) for OpenAI-shaped chat messages."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role", "user")
        if role in ("system", "developer"):
            system.append(_text_of(m.get("content")))
            continue
        if role == "tool":
            role, blocks = "user", [{"type": "tool_result", "tool_use_id": str(m.get("tool_call_id") or ""),
                                     "content": _text_of(m.get("content"))}]
        else:
            blocks = _content_blocks(m.get("content"))
            if role == "assistant":
                blocks = [*_thinking_of(m), *blocks,
                          *(_tool_use(c) for c in m.get("tool_calls") or [] if isinstance(c, dict))]
            role = "assistant" if role == "assistant" else "user"
        if out and out[-1]["role"] == role:
            prev = out[-1]["content"]
            if isinstance(prev, str):
                prev = out[-1]["content"] = [{"type": "text", "text": prev}] if prev else []
            prev.extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for msg in out:  # a lone text block reads better (and caches the same) as a plain string
        blocks = msg["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            msg["content"] = blocks[0]["text"]
    return ("\n\n".join(s for s in system if s) or None), out


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools as Anthropic `{name, description, input_schema}`."""
    out = []
    for t in tools or []:
        fn = t.get("function", t) if isinstance(t, dict) else {}
        entry: dict[str, Any] = {"name": fn.get("name"),
                                 "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
        if fn.get("description"):
            entry["description"] = fn["description"]
        out.append(entry)
    return out


def convert_tool_choice(choice: Any) -> dict[str, Any] | None:
    """OpenAI `tool_choice` as Anthropic's (`required` -> `any`, a named function -> `tool`)."""
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            return {"type": "tool", "name": name}
    raise BadRequestError(f"tool_choice {choice!r}: use auto, none, required or "
                          '{"type": "function", "function": {"name": ...}}')


def structured_schema(response_format: Any) -> tuple[str, dict] | None:
    """(name, schema) of a JSON Schema response_format, else None."""
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        js = response_format.get("json_schema") or {}
        schema = js.get("schema")
        if isinstance(schema, dict):
            return str(js.get("name") or STRUCTURED_TOOL), schema
    return None


def body_for(model: str, messages: list[dict], params: dict[str, Any], stream: bool) -> dict[str, Any]:
    """The /v1/messages body (`stop` -> `stop_sequences`; max_tokens defaulted because the API requires it)."""
    system, msgs = convert_messages(messages)
    body: dict[str, Any] = {"model": model, "messages": msgs}
    if system:
        body["system"] = system
    clean = {k: v for k, v in params.items() if v is not None}
    out = {k: v for k, v in clean.items() if k not in _UNSUPPORTED}
    stop = out.pop("stop", None)
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if "max_tokens" not in out and clean.get("max_completion_tokens") is not None:
        out["max_tokens"] = clean["max_completion_tokens"]
    budget = clean.get("thinking_budget")
    if budget is None and clean.get("reasoning_effort") in EFFORT_BUDGET:
        budget = EFFORT_BUDGET[clean["reasoning_effort"]]
    if budget:
        out["thinking"] = {"type": "enabled", "budget_tokens": int(budget)}
        out.pop("temperature", None)  # extended thinking refuses temperature and top_k
        out.pop("top_k", None)
        out.setdefault("max_tokens", int(budget) + DEFAULT_MAX_TOKENS)
    out.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    tools = convert_tools(clean.get("tools"))
    choice = convert_tool_choice(clean.get("tool_choice"))
    if budget and choice is not None and choice["type"] in ("any", "tool"):
        raise BadRequestError("tool_choice 'required' or a named tool cannot be used with Anthropic extended "
                              "thinking (thinking_budget / reasoning_effort): use tool_choice 'auto' or turn "
                              "thinking off")
    structured = structured_schema(clean.get("response_format"))
    if structured:
        tools.append({"name": STRUCTURED_TOOL, "description": f"Give the answer ({structured[0]}) as this "
                      "tool's input.", "input_schema": structured[1]})
        if not budget:  # a forced tool is refused with thinking on; then the model is only asked to use it
            choice = {"type": "tool", "name": STRUCTURED_TOOL}
    if tools:
        out["tools"] = tools
    if choice is not None and (tools or choice["type"] == "none"):
        out["tool_choice"] = choice
    body.update(out)
    if stream:
        body["stream"] = True
    return body


def read_blocks(blocks: list[Any], structured: bool) -> tuple[str, str | None, list[dict] | None]:
    """(answer text, reasoning text, tool calls) from response content blocks.

    With a structured response_format, the forced tool's input is the answer (as JSON text).
    """
    texts, thoughts, calls = [], [], []
    answer = None
    for b in blocks:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            texts.append(str(b.get("text", "")))
        elif b.get("type") == "thinking":
            thoughts.append(str(b.get("thinking", "")))
        elif b.get("type") == "tool_use":
            if structured and b.get("name") == STRUCTURED_TOOL:
                answer = json.dumps(b.get("input") or {}, ensure_ascii=False)
                continue
            calls.append({"id": str(b.get("id") or ""), "type": "function",
                          "function": {"name": str(b.get("name") or ""),
                                       "arguments": json.dumps(b.get("input") or {}, ensure_ascii=False)}})
    text = answer if answer is not None else "".join(texts)
    return text, ("\n\n".join(thoughts) or None), (calls or None)
