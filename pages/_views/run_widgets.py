"""Widgets shared by the Playground, Compare and History pages (layout only; logic is in lib/).

Every piece of model text, prompt text or variable value is untrusted: it is shown with
st.code / st.text, or in st.markdown only after `md_escape`.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from lib import prompts as prompts_lib
from lib.client import list_endpoints
from lib.errors import WorkbenchError
from lib.ui import latency_text, md_escape, money, tokens

PROMPT_LIST_CAP = 500
MODELS_PER_ENDPOINT = 300
MODEL_HELP = "Models from each endpoint's list (and from Settings → Test). Type ENDPOINT/MODEL to use another."


def persist(prefix: str, exclude: tuple[str, ...] = ()) -> None:
    """Keep this page's widget values across page switches (Streamlit drops the state of unrendered widgets).

    Call first thing on the page: values missing since the last visit are restored, then the current
    values are remembered.  Buttons, uploaders and table selections cannot be set, so they are excluded.
    """
    ss = st.session_state
    store_key = f"{prefix}__keep"
    for k, v in dict(ss.get(store_key, {})).items():
        if k not in ss:
            ss[k] = v
    ss[store_key] = {k: ss[k] for k in list(ss.keys())
                     if isinstance(k, str) and k.startswith(prefix + "_") and not k.startswith(prefix + "__")
                     and not k.startswith(exclude)}


def prompt_names(session: Any) -> list[str]:
    """Names of the most recently updated prompts (bounded)."""
    rows, _ = prompts_lib.list_prompts(session=session, sort="updated", page=1, page_size=PROMPT_LIST_CAP)
    return [p.name for p in rows]


def version_choices(session: Any, name: str) -> tuple[list[str], dict[str, int]]:
    """Refs to offer for one prompt ('name', 'name@label', 'name:N') and their version numbers."""
    versions = prompts_lib.list_versions(session=session, name=name)
    p = prompts_lib.get_prompt(session=session, name=name)
    labels = prompts_lib.labels_of(session=session, prompt_id=p.id)
    refs: dict[str, int] = {}
    if versions:
        refs[name] = versions[-1].number
    for label, num in labels.items():
        refs[f"{name}@{label}"] = num
    for v in reversed(versions):
        refs[f"{name}:{v.number}"] = v.number
    return list(refs), refs


def ref_label(ref: str, refs: dict[str, int]) -> str:
    """How a ref reads in a picker: 'latest (v3)', 'production (v2)', 'v1'."""
    if ":" in ref:
        return f"v{refs[ref]}"
    if "@" in ref:
        return f"{ref.split('@', 1)[1]} (v{refs[ref]})"
    return f"latest (v{refs[ref]})"


def model_options(session: Any, extra: list[str | None] = ()) -> list[str]:
    """'endpoint/model' choices from every endpoint's model list, plus any extra ones (e.g. a version default)."""
    out: list[str] = []
    checked = st.session_state.get("settings_health", {})  # models found by the Settings page's Test button
    for e in list_endpoints(session=session):
        found = (checked.get(e.name) or {}).get("models") or []
        for m in list(dict.fromkeys([*(e.models or []), *found]))[:MODELS_PER_ENDPOINT]:
            out.append(f"{e.name}/{m}")
    if "echo/echo" not in out:
        out.append("echo/echo")
    for m in extra:
        if m and m not in out:
            out.insert(0, m)
    return out


# The parameters with their own number fields: (type, min, max, default).  A saved value that does not fit
# its field (text, null, out of range) stays in "Other parameters" instead, so it is neither lost nor a crash.
NUMBER_PARAMS: dict[str, tuple[type, float, float, float]] = {
    "temperature": (float, 0.0, 2.0, 0.7), "max_tokens": (int, 1, 200_000, 512)}


def _field_value(value: Any, cast: type, lo: float, hi: float) -> Any:
    """`value` as its number field takes it, or None when it does not fit (wrong type, fraction, out of range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    if cast is int and not float(value).is_integer():
        return None
    return cast(value) if lo <= value <= hi else None


def as_params(params: Any) -> dict[str, Any]:
    """Saved parameters as a dict ({} for anything else: an imported version can hold e.g. a string)."""
    return dict(params) if isinstance(params, dict) else {}


def split_params(params: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """(values for the number fields that fit them, every other parameter as the JSON of 'Other parameters')."""
    fields: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for k, v in as_params(params).items():
        spec = NUMBER_PARAMS.get(k)
        fitted = _field_value(v, *spec[:3]) if spec else None
        if fitted is None:
            others[k] = v
        else:
            fields[k] = fitted
    return fields, json.dumps(others) if others else ""


def seed_params(prefix: str, params: dict[str, Any] | None) -> None:
    """Put saved parameters (a version's or a run's) into the fields of params_inputs, before they are drawn."""
    fields, extra = split_params(params)
    for k, v in fields.items():
        st.session_state[f"{prefix}_{k}"] = v
    st.session_state[f"{prefix}_extra"] = extra


def params_inputs(prefix: str, defaults: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Temperature, max tokens and extra JSON parameters; returns (params, error)."""
    fields, extra_text = split_params(defaults)
    c1, c2 = st.columns(2)
    temp = c1.number_input("Temperature", min_value=0.0, max_value=2.0, step=0.1,
                           value=fields.get("temperature", NUMBER_PARAMS["temperature"][3]),
                           key=f"{prefix}_temperature")
    max_tokens = c2.number_input("Max tokens", min_value=1, max_value=200_000, step=64,
                                 value=fields.get("max_tokens", NUMBER_PARAMS["max_tokens"][3]),
                                 key=f"{prefix}_max_tokens")
    text = st.text_input("Other parameters (JSON)", value=extra_text,
                         key=f"{prefix}_extra", placeholder='{"top_p": 0.9, "seed": 7}',
                         help="Any other provider parameter; a key given here wins over the fields above.")
    params: dict[str, Any] = {"temperature": float(temp), "max_tokens": int(max_tokens)}
    if text.strip():
        try:
            extra = json.loads(text)
        except json.JSONDecodeError as exc:
            return params, f"Other parameters are not valid JSON: {exc.msg} (column {exc.colno})"
        if not isinstance(extra, dict):
            return params, 'Other parameters must be a JSON object, e.g. {"top_p": 0.9}'
        params.update(extra)
    return params, None


def show_metrics(r: Any, marks: tuple[str, ...] = (), compact: bool = False) -> None:
    """Tokens, cost, latency, TTFT, finish reason and attempts of a RunResult or Run row."""
    estimated = bool(getattr(r, "usage_estimated", False))
    cached = bool(getattr(r, "cached", None) or getattr(r, "cache_hit", None))
    tok = tokens(getattr(r, "prompt_tokens", None), getattr(r, "completion_tokens", None), estimated)
    cost, latency = money(getattr(r, "cost_usd", None)), latency_text(getattr(r, "latency_ms", None))
    if compact:  # narrow columns: one line each, nothing truncated
        badges = " ".join(f":green-badge[{m}]" for m in ("fastest", "cheapest") if m in marks)
        if badges:
            st.markdown(badges)
        st.markdown(f"**Tokens** {md_escape(tok)}  \n**Cost** {md_escape(cost)}  \n"
                    f"**Latency** {md_escape(latency)}")
    else:
        c = st.columns(3)
        c[0].metric("Tokens", tok)
        c[1].metric("Cost" + (" (cheapest)" if "cheapest" in marks else ""), cost)
        c[2].metric("Latency" + (" (fastest)" if "fastest" in marks else ""), latency)
    extras = [f"TTFT {latency_text(getattr(r, 'ttft_ms', None))}",
              f"finish: {getattr(r, 'finish_reason', None) or '-'}",
              f"attempts: {getattr(r, 'attempts', 1)}"]
    if cached:
        extras.append("from cache")
    rid = getattr(r, "run_id", None) or getattr(r, "id", None)
    if rid:
        extras.append(f"run #{rid}")
    st.caption(md_escape(" · ".join(extras)))


def show_error(r: Any) -> None:
    """A failed or incomplete run as a clear message (never a traceback)."""
    status = getattr(r, "status", "ok")
    kind = getattr(r, "error_kind", None) or "error"
    msg = getattr(r, "error_message", None) or "no details"
    http = getattr(r, "http_status", None)
    text = f"{kind}{f' (HTTP {http})' if http else ''}: {msg}"
    if status == "incomplete":
        st.warning(f"The answer is incomplete: {md_escape(text)}. The partial text is kept.", icon=":material/warning:")
    elif status == "error":
        st.error(f"The call failed: {md_escape(text)}", icon=":material/error:")


def show_answer(text: str, key: str | None = None) -> None:
    """A model answer, shown literally (never interpreted as markdown or HTML)."""
    if text:
        st.code(text, language=None, wrap_lines=True)
    else:
        st.caption("(empty answer)")


def show_messages(messages: list[dict]) -> None:
    """Rendered chat messages, each literally under its role."""
    for m in messages or []:
        st.caption(md_escape(str(m.get("role", "?")).upper()))
        st.code(str(m.get("content", "")), language=None, wrap_lines=True)


def lib_error(exc: WorkbenchError) -> None:
    """A lib error as one clear line."""
    st.error(md_escape(str(exc)), icon=":material/error:")
