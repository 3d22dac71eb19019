"""The model-parameters form without Streamlit: which fields a saved parameter set fills, and the
parameters a filled form sends.

Only what is switched on is sent: a form opened on a version without `temperature` or
`max_tokens` sends neither (reasoning models refuse them), and the form says which are on.
`tools`, `tool_choice` and `response_format` are JSON fields validated by `lib.prompts`
(errors name the field and the line); anything else is "Other parameters" JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lib.errors import ValidationError
from lib.prompts import EFFORTS, check_params, parse_json_field, validate_modern_params

# Parameters with their own number field: (type, min, max, default shown while off).  A saved value that
# does not fit its field (text, null, out of range) stays in "Other parameters", neither lost nor a crash.
NUMBER_PARAMS: dict[str, tuple[type, float, float, float]] = {
    "temperature": (float, 0.0, 2.0, 0.7), "max_tokens": (int, 1, 200_000, 512),
    "thinking_budget": (int, 1024, 200_000, 4096)}
JSON_FIELDS = ("tools", "tool_choice", "response_format")
OWN_FIELDS = (*NUMBER_PARAMS, *JSON_FIELDS, "reasoning_effort")  # names with their own field on the form
NOT_SET = "(not set)"


@dataclass
class ParamFields:
    """What a parameter set puts into the form."""

    on: dict[str, bool] = field(default_factory=dict)  # number param -> switched on
    numbers: dict[str, float] = field(default_factory=dict)
    effort: str = NOT_SET
    json_texts: dict[str, str] = field(default_factory=dict)  # tools / tool_choice / response_format
    extra: str = ""  # every other parameter, as JSON


def field_value(value: Any, cast: type, lo: float, hi: float) -> Any:
    """`value` as its number field takes it, or None when it does not fit (wrong type, fraction, out of range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    if cast is int and not float(value).is_integer():
        return None
    return cast(value) if lo <= value <= hi else None


def as_params(params: Any) -> dict[str, Any]:
    """Saved parameters as a dict ({} for anything else: an imported version can hold e.g. a string)."""
    return dict(params) if isinstance(params, dict) else {}


def fields_for(params: Any) -> ParamFields:
    """The form's fields for saved parameters (a version's, a run's or a preset's)."""
    out = ParamFields()
    others: dict[str, Any] = {}
    for k, v in as_params(params).items():
        spec = NUMBER_PARAMS.get(k)
        fitted = field_value(v, *spec[:3]) if spec else None
        if fitted is not None:
            out.on[k], out.numbers[k] = True, fitted
        elif k == "reasoning_effort" and v in EFFORTS:
            out.effort = v
        elif k in JSON_FIELDS and v is not None:
            out.json_texts[k] = json.dumps(v, indent=2, ensure_ascii=False) if not isinstance(v, str) else \
                json.dumps(v)
        else:
            others[k] = v
    for k, spec in NUMBER_PARAMS.items():
        out.on.setdefault(k, False)
        out.numbers.setdefault(k, spec[1] if k == "thinking_budget" else spec[3])
    out.extra = json.dumps(others) if others else ""
    return out


def build_params(form: ParamFields) -> tuple[dict[str, Any], str | None]:
    """(parameters to send, error) from a filled form: only the switched-on fields, then the JSON ones."""
    params: dict[str, Any] = {}
    for k, (cast, *_rest) in NUMBER_PARAMS.items():
        if form.on.get(k):
            params[k] = cast(form.numbers[k])
    if form.effort in EFFORTS:
        params["reasoning_effort"] = form.effort
    try:
        for k in JSON_FIELDS:
            text = (form.json_texts.get(k) or "").strip()
            if text:
                params[k] = parse_json_field(text, k)
    except ValidationError as exc:
        return params, str(exc)
    if form.extra.strip():
        try:
            extra = json.loads(form.extra)
        except json.JSONDecodeError as exc:
            return params, f"Other parameters are not valid JSON: {exc.msg} (column {exc.colno})"
        if not isinstance(extra, dict):
            return params, 'Other parameters must be a JSON object, e.g. {"top_p": 0.9}'
        errors, _ = check_params(extra, typed=OWN_FIELDS)  # one source of truth per parameter
        if errors:
            return params, "Other parameters: " + "; ".join(errors)
        params.update(extra)
    try:
        validate_modern_params(params, {k: v for k, v in form.json_texts.items() if v})
    except ValidationError as exc:
        return params, str(exc)
    return params, None


def sent_as_is(form: ParamFields) -> list[str]:
    """Names in Other parameters that are not known parameters (sent to the provider unchecked)."""
    try:
        extra = json.loads(form.extra) if form.extra.strip() else {}
    except json.JSONDecodeError:
        return []
    return check_params(extra, typed=OWN_FIELDS)[1] if isinstance(extra, dict) else []


def sent_summary(params: dict[str, Any]) -> str:
    """One line naming what will be sent ('nothing but the messages' when no parameter is on)."""
    return ("Sent: " + ", ".join(sorted(params))) if params else "Sent: the messages only (provider defaults)"
