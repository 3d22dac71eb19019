"""Evaluators over a run's tool calls (OpenAI shape `{id, type, function: {name, arguments}}`):

    tool-called:NAME                 some tool call is to NAME
    tool-args-match:{schema}         every tool call's arguments are JSON matching the schema
    tool-args-match:NAME:{schema}    the same, for the calls to NAME (there must be one)
    is-valid-openai-tools-call       (promptfoo) there are tool calls, each to a tool the version defines,
                                     with arguments matching that tool's `parameters` schema
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import exceptions as js_exceptions
from jsonschema import validators

TOOL_TYPES = ("tool-called", "tool-args-match", "is-valid-openai-tools-call")


def _name(call: Any) -> str:
    return str(((call or {}).get("function") or {}).get("name") or "") if isinstance(call, dict) else ""


def _args(call: dict) -> tuple[Any, str | None]:
    raw = (call.get("function") or {}).get("arguments")
    if isinstance(raw, dict):
        return raw, None
    try:
        return json.loads(raw or "{}"), None
    except (TypeError, ValueError) as exc:
        return None, f"arguments of {_name(call)!r} are not JSON ({exc})"


def _violation(doc: Any, schema: dict) -> str | None:
    error = js_exceptions.best_match(validators.validator_for(schema)(schema).iter_errors(doc))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message[:150]}"


def split_args_value(value: Any) -> tuple[str | None, dict]:
    """(tool name or None, schema) of a `tool-args-match` value ('{...}' or 'NAME:{...}' or a dict)."""
    if isinstance(value, dict):
        if isinstance(value.get("schema"), dict):
            return value.get("name"), value["schema"]
        return split_args_value(json.dumps(value))
    text = str(value or "").strip()
    name = None
    if not text.startswith("{") and ":" in text:
        name, text = (part.strip() for part in text.split(":", 1))
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"tool-args-match: the schema is not valid JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise ValueError("tool-args-match: the schema must be a JSON object")  # noqa: TRY004 - callers catch it
    try:
        validators.validator_for(schema).check_schema(schema)
    except js_exceptions.SchemaError as exc:
        raise ValueError(f"tool-args-match: invalid schema: {exc.message}") from None
    return name, schema


def check_tools(kind: str, value: Any, tool_calls: list[dict] | None,
                tools: list[dict] | None) -> tuple[bool | None, float | None, str]:
    """(passed, score, reason) of one tool evaluator."""
    calls = [c for c in tool_calls or [] if isinstance(c, dict)]
    names = [_name(c) for c in calls]
    if kind == "tool-called":
        ok = str(value) in names
        return ok, float(ok), (f"called {value}" if ok else
                               f"{value} was not called (calls: {', '.join(names) or 'none'})")
    if kind == "tool-args-match":
        name, schema = split_args_value(value)
        chosen = [c for c in calls if name is None or _name(c) == name]
        if not chosen:
            return False, 0.0, f"no call to {name}" if name else "no tool call"
        for c in chosen:
            doc, err = _args(c)
            err = err or _violation(doc, schema)
            if err:
                return False, 0.0, f"{_name(c)}: {err}"
        return True, 1.0, f"{len(chosen)} call(s) match the schema"
    if kind == "is-valid-openai-tools-call":
        if not calls:
            return False, 0.0, "no tool call"
        defined = {_name(t): (t.get("function") or {}).get("parameters") for t in tools or [] if isinstance(t, dict)}
        for c in calls:
            if not isinstance(c.get("function"), dict) or not _name(c):
                return False, 0.0, "a tool call without function.name"
            if tools is not None and _name(c) not in defined:
                return False, 0.0, f"{_name(c)!r} is not one of the version's tools"
            doc, err = _args(c)
            schema = defined.get(_name(c))
            err = err or (_violation(doc, schema) if isinstance(schema, dict) else None)
            if err:
                return False, 0.0, f"{_name(c)}: {err}"
        return True, 1.0, f"{len(calls)} valid tool call(s)"
    raise ValueError(f"unknown tool evaluator {kind!r}")
