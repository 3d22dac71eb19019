"""Widgets shared by the Playground, Compare and History pages (layout only; logic is in lib/).

Every piece of model text, prompt text or variable value is untrusted: it is shown with
st.code / st.text, or in st.markdown only after `md_escape`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from lib import prompts as prompts_lib
from lib import ui as pf
from lib.client import list_endpoints
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.ui import latency_text, load_page_state, md_escape, money, save_page_state, storable, tokens
from pages._views.auth import actor

PROMPT_LIST_CAP = 500
MODELS_PER_ENDPOINT = 300
MODEL_HELP = "Models from each endpoint's list (and from Settings → Test). Type ENDPOINT/MODEL to use another."


_ANCHOR = re.compile(r"^[a-z][a-z0-9_]*$")


def spend_metric(where: Any, label: str, v: float | None, unpriced: int | None, calls: int | None = None,
                 suffix: str = "") -> None:
    """A spend tile: the figure ('$X', '≥ $X' or 'unknown'), and 'N calls unpriced' under it when some are."""
    figure, note = pf.spend_parts(v, unpriced, calls)
    where.metric(label, figure + suffix, delta=note, delta_color="off", delta_arrow="off",
                 help="Calls with no known price are not in the figure, so it is a lower bound. Set a price "
                      "override in Settings." if note else None)


def scroll_to(anchor_key: str) -> None:
    """Scroll the window to the container keyed `anchor_key` (Streamlit has no scroll API).

    A fixed script in a zero-height component: only the anchor's key (a constant in page code, checked
    here) goes into it, never any page text.
    """
    if not _ANCHOR.match(anchor_key):
        raise ValueError(f"anchor key {anchor_key!r}: letters, digits and _ only")
    # scroll-margin keeps the anchor clear of Streamlit's sticky header. The page above the anchor still
    # settles while the answer streams (a panel folds, stale elements go), so the anchor is brought back to the
    # top for up to 3 s, until the person scrolls, clicks or types.
    components.html(
        "<script>const d = window.parent.document; let n = 0, stop = false;"
        "['wheel', 'touchstart', 'keydown', 'mousedown'].forEach("
        "e => d.addEventListener(e, () => { stop = true; }, {once: true, passive: true}));"
        "const go = () => { if (stop) return;"
        " const el = d.querySelector('.st-key-" + anchor_key + "');"
        " if (el) { el.style.scrollMarginTop = '80px'; const top = el.getBoundingClientRect().top;"
        "  if (top < 40 || top > 200) el.scrollIntoView({block: 'start'}); }"
        " if (++n < 20) setTimeout(go, 150); };"
        "go();</script>", height=0)


def persist(prefix: str, exclude: tuple[str, ...] = ()) -> None:
    """Keep this page's widget values across page switches and reloads (in the database, per person).

    Call first thing on the page: values missing from this browser session (a page switch drops the state
    of unrendered widgets; a reload drops everything) are restored, then the current values are stored.
    Buttons, uploaders and table selections cannot be set, so they are excluded.
    """
    ss = st.session_state
    store_key, saved_key = f"{prefix}__keep", f"{prefix}__saved"
    owner = actor().label  # per person: with [auth] each signed-in person has their own page state
    if store_key not in ss:  # a new browser session: what was on screen last time comes from the database
        with session_scope() as s:
            ss[store_key] = ss[saved_key] = load_page_state(session=s, owner=owner, page=prefix)
    for k, v in dict(ss.get(store_key, {})).items():
        if k not in ss and not k.startswith(exclude):
            ss[k] = v
    remember(prefix, exclude)


def remember(prefix: str, exclude: tuple[str, ...] = ()) -> None:
    """Store this page's current values now (also call it at the end of a page that sets values in code,
    e.g. variables loaded from a past run, so a page switch right after does not lose them)."""
    ss = st.session_state
    current = {k: ss[k] for k in list(ss.keys())
               if isinstance(k, str) and k.startswith(prefix + "_") and not k.startswith(prefix + "__")
               and not k.startswith(exclude)}
    ss[f"{prefix}__keep"] = current
    if {k: v for k, v in current.items() if storable(v)} != ss.get(f"{prefix}__saved"):
        with session_scope() as s:
            ss[f"{prefix}__saved"] = save_page_state(session=s, owner=actor().label, page=prefix,
                                                           state=current)


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
    for e in list_endpoints(session=session):
        found = e.last_check_models or []  # models the Settings page's last Test found (kept in the database)
        for m in list(dict.fromkeys([*(e.models or []), *found]))[:MODELS_PER_ENDPOINT]:
            out.append(f"{e.name}/{m}")
    if "echo/echo" not in out:
        out.append("echo/echo")
    for m in extra:
        if m and m not in out:
            out.insert(0, m)
    return out


def as_params(params: Any) -> dict[str, Any]:
    """Saved parameters as a dict ({} for anything else: an imported version can hold e.g. a string)."""
    return pf.as_params(params)


def seed_params(prefix: str, params: dict[str, Any] | None) -> None:
    """Put saved parameters (a version's or a run's) into the fields of params_inputs, before they are drawn."""
    ss = st.session_state
    form = pf.fields_for(params)
    for k, on in form.on.items():
        ss[f"{prefix}_on_{k}"] = on
        ss[f"{prefix}_{k}"] = form.numbers[k]
    ss[f"{prefix}_reasoning_effort"] = form.effort
    for k in pf.JSON_FIELDS:
        ss[f"{prefix}_json_{k}"] = form.json_texts.get(k, "")
    ss[f"{prefix}_extra"] = form.extra


_LABELS = {"temperature": ("Temperature", 0.1), "max_tokens": ("Max tokens", 64),
           "thinking_budget": ("Thinking budget (Anthropic)", 1024)}
_JSON_HELP = {
    "tools": 'OpenAI function tools: [{"type": "function", "function": {"name": ..., "parameters": {...}}}]',
    "tool_choice": '"auto", "none", "required" or {"type": "function", "function": {"name": ...}}',
    "response_format": '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": true}}'}


def params_inputs(prefix: str, defaults: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Sampling fields each with an on/off switch (only those on are sent), reasoning effort, tools and
    structured output JSON, and extra JSON parameters; returns (params, error)."""
    ss = st.session_state
    start = pf.fields_for(defaults)
    form = pf.ParamFields()
    cols = st.columns(len(pf.NUMBER_PARAMS))
    for col, (k, (cast, lo, hi, _d)) in zip(cols, pf.NUMBER_PARAMS.items(), strict=True):
        label, step = _LABELS[k]
        ss.setdefault(f"{prefix}_on_{k}", start.on[k])
        form.on[k] = col.checkbox(f"Send {label.split(' (')[0].lower()}", key=f"{prefix}_on_{k}")
        form.numbers[k] = col.number_input(label, min_value=cast(lo), max_value=cast(hi), step=cast(step),
                                           value=start.numbers[k], key=f"{prefix}_{k}", disabled=not form.on[k])
    efforts = [pf.NOT_SET, *prompts_lib.EFFORTS]
    ss.setdefault(f"{prefix}_reasoning_effort", start.effort)
    form.effort = st.selectbox("Reasoning effort", efforts, key=f"{prefix}_reasoning_effort",
                               help="Sent as reasoning_effort (OpenAI-compatible); for Anthropic it sets a "
                                    "thinking budget unless one is given.")
    with st.expander("Tools and structured output", expanded=any(start.json_texts.values())):
        for k in pf.JSON_FIELDS:
            ss.setdefault(f"{prefix}_json_{k}", start.json_texts.get(k, ""))
            form.json_texts[k] = st.text_area(k, key=f"{prefix}_json_{k}", height=100 if k != "tool_choice" else 68,
                                              help=_JSON_HELP[k])
    form.extra = st.text_input("Other parameters (JSON)", value=start.extra,
                               key=f"{prefix}_extra", placeholder='{"top_p": 0.9, "seed": 7}',
                               help="Any other provider parameter. A parameter with its own field is set there; "
                                    "known names are checked, unknown ones are sent as is.")
    params, error = pf.build_params(form)
    st.caption(md_escape(pf.sent_summary(params)))
    if not error and (as_is := pf.sent_as_is(form)):
        st.caption(md_escape("Sent as is (not a known parameter): " + ", ".join(as_is)))
    return params, error


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


def show_running_metrics() -> None:
    """The figures of a call still running: each says 'running' until the new ones arrive."""
    c = st.columns(3)
    for col, name in zip(c, ("Tokens", "Cost", "Latency"), strict=True):
        col.metric(name, "running")
    st.caption("TTFT, finish reason and run number follow when the answer is complete.")


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


def show_answer(text: str, key: str | None = None, tool_calls: list[dict] | None = None) -> None:
    """A model answer, shown literally (never interpreted as markdown or HTML)."""
    if text:
        st.code(text, language=None, wrap_lines=True)
    elif not tool_calls:
        st.caption("(empty answer)")


def show_tool_calls(tool_calls: list[dict] | None) -> None:
    """Each tool call: its name and its arguments (pretty JSON when they parse), literally."""
    for c in tool_calls or []:
        fn = c.get("function") or {}
        st.caption(md_escape(f"Tool call: {fn.get('name', '?')} ({c.get('id', '')})"))
        args = fn.get("arguments", "")
        try:
            args = json.dumps(json.loads(args), indent=2, ensure_ascii=False) if isinstance(args, str) else \
                json.dumps(args, indent=2, ensure_ascii=False)
        except ValueError:
            pass  # shown as sent: a model can return arguments that are not JSON
        st.code(str(args), language="json", wrap_lines=True)


def show_output(r: Any, text: str | None = None) -> None:
    """A run's (or result's) answer: text, tool calls, and its reasoning collapsed."""
    calls = getattr(r, "tool_calls", None)
    show_answer(getattr(r, "output", None) or getattr(r, "text", "") if text is None else text, tool_calls=calls)
    show_tool_calls(calls)
    reasoning = getattr(r, "reasoning", None)
    n = getattr(r, "reasoning_tokens", None)
    if reasoning or n:
        with st.expander("Reasoning" + (f" ({n:,} tokens)" if n else ""), expanded=False):
            if reasoning:
                st.code(reasoning, language=None, wrap_lines=True)
            else:
                st.caption("The provider counted reasoning tokens but returned no reasoning text.")


def show_messages(messages: list[dict]) -> None:
    """Rendered chat messages, each literally under its role (parts, tool calls and tool results too)."""
    for m in messages or []:
        role = str(m.get("role", "?")).upper()
        if m.get("tool_call_id"):
            role += f" (result of {m['tool_call_id']})"
        st.caption(md_escape(role))
        st.code(prompts_lib.message_text(m), language=None, wrap_lines=True)


def lib_error(exc: WorkbenchError) -> None:
    """A lib error as one clear line."""
    st.error(md_escape(str(exc)), icon=":material/error:")
