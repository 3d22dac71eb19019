"""Checks for the model parameters a person types as JSON ("Other parameters"), one rule per known name.

Known names get their type and range checked (so `{"temperature": "hot", "top_p": 7}` is refused with a
message naming each parameter); unknown names are allowed and reported, so the screen can say they are
sent as is.  A name that also has its own field on the screen is refused: one source of truth per parameter.
"""

from __future__ import annotations

from typing import Any

from lib.errors import ValidationError

from .content import validate_modern_params

# name -> (kind, low, high); kind is "number", "int", "bool", "stop" or "modern" (checked by content.py)
KNOWN_PARAMS: dict[str, tuple[str, float | None, float | None]] = {
    "temperature": ("number", 0.0, 2.0),
    "top_p": ("number", 0.0, 1.0),
    "top_k": ("int", 1, None),
    "max_tokens": ("int", 1, None),
    "max_completion_tokens": ("int", 1, None),
    "presence_penalty": ("number", -2.0, 2.0),
    "frequency_penalty": ("number", -2.0, 2.0),
    "seed": ("int", None, None),
    "stop": ("stop", None, None),
    "parallel_tool_calls": ("bool", None, None),
    "response_format": ("modern", None, None),
    "tools": ("modern", None, None),
    "tool_choice": ("modern", None, None),
    "reasoning_effort": ("modern", None, None),
    "thinking_budget": ("modern", None, None),
}


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"from {lo:g} to {hi:g}"
    return f"at least {lo:g}" if lo is not None else ""


def _check_one(name: str, value: Any) -> str | None:
    kind, lo, hi = KNOWN_PARAMS[name]
    if kind in ("number", "int"):
        whole = kind == "int"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not float(value).is_integer()):
            want = "a whole number" if whole else "a number"
            return f"{name}: expected {want}{' ' + _range(lo, hi) if _range(lo, hi) else ''}, got {value!r}"
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"{name}: {value!r} is out of range (use a value {_range(lo, hi)})"
    elif kind == "bool" and not isinstance(value, bool):
        return f"{name}: expected true or false, got {value!r}"
    elif kind == "stop":
        ok = isinstance(value, str) or (isinstance(value, list) and len(value) <= 4
                                        and all(isinstance(s, str) for s in value))
        if not ok:
            return f"{name}: expected a string or a list of up to 4 strings, got {value!r}"
    return None


def check_params(extra: dict[str, Any], *, typed: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(errors, names sent as is) for parameters typed as JSON; `typed` names have their own field on screen."""
    errors: list[str] = []
    for name in extra:
        if name in typed:
            errors.append(f"{name} has its own field above: set it there, not in Other parameters")
    for name, value in extra.items():
        if name in KNOWN_PARAMS and name not in typed and (msg := _check_one(name, value)):
            errors.append(msg)
    modern = {k: v for k, v in extra.items() if KNOWN_PARAMS.get(k, ("",))[0] == "modern"}
    if modern:
        try:
            validate_modern_params(dict(modern))
        except ValidationError as exc:
            errors.append(str(exc))
    return errors, [k for k in extra if k not in KNOWN_PARAMS]
