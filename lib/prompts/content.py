"""What a prompt version may hold beyond text: content parts, tool messages, placeholders, and the
JSON of `tools`, `tool_choice` and `response_format`, each validated with a message naming the field.

- Content is text, or a list of parts: `{"type": "text", "text"}`, `{"type": "image_url", "image_url":
  {"url"}}` (https or a `data:image/...;base64,` URL) and `{"type": "file", "file": {"file_data",
  "filename"}}` (a PDF as a data URL).  Only text parts are templated.
- A `tool` message answers a tool call (`tool_call_id`); an assistant message may carry `tool_calls`.
- A `placeholder` message (`{"role": "placeholder", "name": "history"}`, Langfuse's shape) expands to
  the list of messages given as the variable's value; a missing or malformed list is one error
  raised before any call.
- `tools` are OpenAI function tools whose `parameters` must be a valid JSON Schema; a
  `response_format` of type `json_schema` carries a valid JSON Schema too.  Errors from JSON text
  (the editor's fields) name the field and point at the line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from lib.errors import MissingVariablesError, ValidationError

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool")
ROLES = (*CHAT_ROLES, "placeholder")
PART_TYPES = ("text", "image_url", "file")
EFFORTS = ("minimal", "low", "medium", "high")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$")
DATA_PDF = re.compile(r"^data:application/pdf;base64,[A-Za-z0-9+/=\s]+$")
JSON_PARAMS = ("tools", "tool_choice", "response_format")
# an image part's whole URL may be one variable: its value (https URL, data URL or a file under the
# media folder) becomes the URL at render time; nothing else in a non-text part is templated
URL_VARIABLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def content_text(content: Any) -> str:
    """The text of a message content (text parts joined; other parts as a short marker)."""
    if isinstance(content, list):
        out = []
        for p in content:
            if not isinstance(p, dict):
                continue
            if p.get("type") == "text":
                out.append(str(p.get("text", "")))
            elif p.get("type") == "image_url":
                out.append("[image]")
            elif p.get("type") == "file":
                out.append(f"[file {(p.get('file') or {}).get('filename') or ''}]".replace(" ]", "]"))
        return "\n".join(out)
    return "" if content is None else str(content)


def url_variables(content: Any) -> list[str]:
    """Variables that stand for a whole image URL in a content's parts."""
    if not isinstance(content, list):
        return []
    out = []
    for p in content:
        img = p.get("image_url") if isinstance(p, dict) and p.get("type") == "image_url" else None
        url = img.get("url") if isinstance(img, dict) else None
        m = URL_VARIABLE.match(url) if isinstance(url, str) else None
        if m:
            out.append(m.group(1))
    return out


def message_text(message: dict) -> str:
    """How a message reads as text: its content, tool calls, or the placeholder it stands for."""
    if message.get("role") == "placeholder":
        return f"{{{{{message.get('name', '')}}}}} (list of messages)"
    text = content_text(message.get("content"))
    calls = [f"-> {(c.get('function') or {}).get('name')}({(c.get('function') or {}).get('arguments', '')})"
             for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    return "\n".join([t for t in (text, *calls) if t])


# ---------------------------------------------------------------- messages

def _part(part: Any, where: str) -> dict:
    if not isinstance(part, dict) or part.get("type") not in PART_TYPES:
        raise ValidationError(f"{where}: a content part must be an object with type "
                              f"{', '.join(PART_TYPES)}")
    ptype = part["type"]
    if ptype == "text":
        if not isinstance(part.get("text"), str):
            raise ValidationError(f"{where}: a text part needs \"text\" as a string")
        return {"type": "text", "text": part["text"]}
    if ptype == "image_url":
        img = part.get("image_url")
        url = img.get("url") if isinstance(img, dict) else img
        if not isinstance(url, str) or not (url.startswith("https://") or DATA_IMAGE.match(url)
                                            or URL_VARIABLE.match(url)):
            raise ValidationError(f"{where}: image_url.url must be an https:// URL, a data:image/(png|jpeg|gif|"
                                  "webp);base64 URL or one {{variable}}")
        out = {"url": url}
        if isinstance(img, dict) and img.get("detail") in ("auto", "low", "high"):
            out["detail"] = img["detail"]
        return {"type": "image_url", "image_url": out}
    file = part.get("file")
    if not isinstance(file, dict) or not isinstance(file.get("file_data"), str) \
            or not DATA_PDF.match(file["file_data"]):
        raise ValidationError(f"{where}: a file part needs file.file_data as a data:application/pdf;base64 URL")
    return {"type": "file", "file": {"file_data": file["file_data"],
                                     "filename": str(file.get("filename") or "document.pdf")}}


def _tool_calls(calls: Any, where: str) -> list[dict]:
    if not isinstance(calls, list):
        raise ValidationError(f"{where}: tool_calls must be a list")
    out = []
    for j, c in enumerate(calls):
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not c.get("id"):
            raise ValidationError(f"{where}: tool_calls[{j}] needs id and function.name")
        args = fn.get("arguments", "{}")
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        out.append({"id": str(c["id"]), "type": "function", "function": {"name": fn["name"], "arguments": args}})
    return out


def validate_message(msg: Any, i: int) -> dict:
    """One message checked and normalised (role lower-cased, only the keys that belong to its role)."""
    if not isinstance(msg, dict):
        raise ValidationError(f"message {i + 1}: expected an object with role and content")
    role = str(msg.get("role", "")).strip().lower()
    if not role and msg.get("type") == "placeholder":  # Langfuse's SDK writes {"type": "placeholder", "name"}
        role = "placeholder"
    if role not in ROLES:
        raise ValidationError(f"message {i + 1}: unknown role {msg.get('role')!r}; use one of {', '.join(ROLES)}")
    where = f"message {i + 1} ({role})"
    if role == "placeholder":
        name = msg.get("name")
        if not isinstance(name, str) or not VAR_NAME.match(name):
            raise ValidationError(f"{where}: needs \"name\", the variable holding the list of messages "
                                  "(letters, digits and _)")
        return {"role": "placeholder", "name": name}
    content = msg.get("content", "")
    out: dict[str, Any] = {"role": role}
    if isinstance(content, list):
        if not content:
            raise ValidationError(f"{where}: content is an empty list of parts")
        out["content"] = [_part(p, f"{where} part {j + 1}") for j, p in enumerate(content)]
    elif content is None and role == "assistant" and msg.get("tool_calls"):
        out["content"] = ""
    elif isinstance(content, str):
        out["content"] = content
    else:
        raise ValidationError(f"{where}: content must be text or a list of parts")
    if role == "tool":
        if not msg.get("tool_call_id"):
            raise ValidationError(f"{where}: a tool message needs the tool_call_id it answers")
        out["tool_call_id"] = str(msg["tool_call_id"])
    if role == "assistant" and msg.get("tool_calls"):
        out["tool_calls"] = _tool_calls(msg["tool_calls"], where)
    return out


def has_text(msg: dict) -> bool:
    """Whether a message says anything (text, a non-text part, a tool call or a placeholder)."""
    if msg.get("role") == "placeholder" or msg.get("tool_calls"):
        return True
    content = msg.get("content")
    if isinstance(content, list):
        return any(p.get("type") != "text" or p.get("text", "").strip() for p in content)
    return bool(str(content or "").strip())


def placeholder_names(messages: list[dict]) -> list[str]:
    """The variables placeholders stand for, in order."""
    return [m["name"] for m in messages if m.get("role") == "placeholder" and m.get("name")]


def expand_history(name: str, value: Any, where: str) -> list[dict]:
    """The messages a placeholder's value stands for (a list, or JSON text of one); ValidationError if not."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValidationError(f"{where}: variable {name!r} must be a JSON list of messages; its text is not "
                                  f"JSON ({exc})") from None
    if not isinstance(value, list):
        raise ValidationError(f"{where}: variable {name!r} must be a list of messages, got "
                              f"{type(value).__name__}")
    out = []
    for j, m in enumerate(value):
        try:
            msg = validate_message(m, j)
        except ValidationError as exc:
            raise ValidationError(f"{where}: variable {name!r}, item {j + 1}: {exc}") from None
        if msg["role"] == "placeholder":
            raise ValidationError(f"{where}: variable {name!r}, item {j + 1}: a placeholder cannot nest")
        out.append(msg)
    return out


def check_placeholders(messages: list[dict], values: dict) -> None:
    """Raise before any call if a placeholder's variable is missing or not a list of messages."""
    lacking = [n for n in placeholder_names(messages) if n not in values]
    if lacking:
        raise MissingVariablesError(lacking)
    for i, m in enumerate(messages):
        if m.get("role") == "placeholder":
            expand_history(m["name"], values[m["name"]], f"message {i + 1} (placeholder)")


# ---------------------------------------------------------------- tools, tool_choice, response_format

def parse_json_field(text: str, field: str) -> Any:
    """JSON typed into an editor field; the error names the field, line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{field}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") \
            from None


def line_of(text: str | None, path: list[Any]) -> int | None:
    """The line in `text` where the JSON value at `path` starts (by following its keys in order)."""
    if not text:
        return None
    pos = 0
    for key in path:
        if isinstance(key, str):
            hit = text.find(json.dumps(key), pos)
            if hit < 0:
                break
            pos = hit
    return text.count("\n", 0, pos) + 1


def _where(field: str, path: list[Any], source: str | None) -> str:
    dotted = field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    line = line_of(source, path) if path else None
    return f"{dotted} (line {line})" if line and source and "\n" in source else dotted


def check_schema(schema: Any, field: str, path: list[Any], source: str | None = None) -> None:
    """A JSON Schema (Draft 2020-12 meta-schema); the error names the field and the line."""
    if not isinstance(schema, dict):
        raise ValidationError(f"{_where(field, path, source)}: a JSON Schema must be an object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        inner = [*path, *exc.path]
        raise ValidationError(f"{_where(field, inner, source)}: not a valid JSON Schema: {exc.message}") from None


def validate_tools(tools: Any, source: str | None = None) -> list[dict]:
    """OpenAI function tools (`{"type": "function", "function": {name, description?, parameters}}`)."""
    if not isinstance(tools, list):
        raise ValidationError("tools: must be a JSON list of tools")
    names: set[str] = set()
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type", "function") != "function" or not isinstance(fn, dict):
            raise ValidationError(f"{_where('tools', [i], source)}: expected "
                                  '{"type": "function", "function": {"name": ..., "parameters": {...}}}')
        name = fn.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise ValidationError(f"{_where('tools', [i, 'function', 'name'], source)}: a tool name is 1-64 "
                                  "letters, digits, _ or -")
        if name in names:
            raise ValidationError(f"{_where('tools', [i, 'function', 'name'], source)}: {name!r} is used twice")
        names.add(name)
        if "parameters" in fn:
            check_schema(fn["parameters"], "tools", [i, "function", "parameters"], source)
    return tools


def validate_tool_choice(choice: Any, tools: list[dict] | None) -> Any:
    """`auto`, `none`, `required` or `{"type": "function", "function": {"name"}}` naming a defined tool."""
    if choice in ("auto", "none", "required"):
        return choice
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str):
        raise ValidationError('tool_choice: use "auto", "none", "required" or '
                              '{"type": "function", "function": {"name": ...}}')
    known = {(t.get("function") or {}).get("name") for t in tools or []}
    if name not in known:
        raise ValidationError(f"tool_choice: no tool named {name!r} in tools")
    return {"type": "function", "function": {"name": name}}


def validate_response_format(rf: Any, source: str | None = None) -> Any:
    """`json` / `{"type": "text" | "json_object"}` / `{"type": "json_schema", "json_schema": {name, schema,
    strict?}}` with a valid schema."""
    if rf in ("json", "json_object", "text"):
        return rf
    if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema"):
        raise ValidationError('response_format: use {"type": "json_object"} or {"type": "json_schema", '
                              '"json_schema": {"name": ..., "schema": {...}}}')
    if rf["type"] == "json_schema":
        js = rf.get("json_schema")
        if not isinstance(js, dict) or "schema" not in js:
            raise ValidationError(f"{_where('response_format', ['json_schema'], source)}: needs "
                                  '{"name": ..., "schema": {...}}')
        if not isinstance(js.get("name", "x"), str) or not TOOL_NAME.match(str(js.get("name", "x"))):
            raise ValidationError(f"{_where('response_format', ['json_schema', 'name'], source)}: a name is 1-64 "
                                  "letters, digits, _ or -")
        if "strict" in js and not isinstance(js["strict"], bool):
            raise ValidationError(f"{_where('response_format', ['json_schema', 'strict'], source)}: "
                                  "must be true or false")
        check_schema(js["schema"], "response_format", ["json_schema", "schema"], source)
    return rf


def response_schema(params: dict | None) -> dict | None:
    """The JSON Schema of a version's `response_format` (None when it has none)."""
    rf = (params or {}).get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        schema = (rf.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else None
    return None


def validate_modern_params(params: dict, sources: dict[str, str] | None = None) -> dict:
    """Check `tools`, `tool_choice`, `response_format`, `reasoning_effort` and `thinking_budget` in params."""
    sources = sources or {}
    if params.get("tools") is not None:
        validate_tools(params["tools"], sources.get("tools"))
    if params.get("tool_choice") is not None:
        params["tool_choice"] = validate_tool_choice(params["tool_choice"], params.get("tools"))
    if params.get("response_format") is not None:
        validate_response_format(params["response_format"], sources.get("response_format"))
    if params.get("reasoning_effort") is not None and params["reasoning_effort"] not in EFFORTS:
        raise ValidationError(f"reasoning_effort: use one of {', '.join(EFFORTS)}")
    budget = params.get("thinking_budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024):
        raise ValidationError("thinking_budget: a whole number of tokens, at least 1024")
    return params
