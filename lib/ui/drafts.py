"""Non-Streamlit helpers for the screens: prompt drafts, markdown escaping, workspace summary.

Nothing here imports streamlit, so it is tested like any lib module.  A *draft* is the
editable, unsaved state of a prompt version held in the page's session state as a plain
dict (JSON-able), so unsaved edits survive switching pages.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from lib.models import Endpoint, Prompt, Run, utcnow
from lib.prompts import ROLES as CONTENT_ROLES

ROLES = ("system", "user", "assistant")  # the "Add ... message" buttons
ALL_ROLES = CONTENT_ROLES  # what a saved message may be (tool, developer, placeholder too)
_KEPT = ("tool_calls", "tool_call_id")  # non-text fields a draft carries along unchanged
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md_escape(text: Any) -> str:
    """Text made inert for st.markdown / widget labels: every markdown and HTML special is escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text if text is not None else ""))


# ---------------------------------------------------------------- drafts

def _uid() -> str:
    return uuid.uuid4().hex[:10]


def new_message(role: str = "user", content: Any = "", extra: dict | None = None) -> dict:
    """A draft message with a stable id (widget keys hang off it, so reordering keeps edits).

    Content parts are edited as their JSON; a placeholder's text is its variable name; tool calls
    and the id a tool message answers ride along in `extra`.
    """
    parts = isinstance(content, list)
    text = json.dumps(content, indent=2, ensure_ascii=False) if parts else ("" if content is None else str(content))
    msg = {"uid": _uid(), "role": role if role in ALL_ROLES else "user", "content": text}
    if parts:
        msg["parts"] = True
    kept = {k: v for k, v in (extra or {}).items() if k in _KEPT and v}
    if kept:
        msg["extra"] = kept
    return msg


def _message_from_version(m: dict) -> dict:
    if m.get("role") == "placeholder":
        return new_message("placeholder", m.get("name", ""))
    return new_message(m.get("role", "user"), m.get("content", ""), m)


def blank_draft() -> dict:
    """The draft of a brand-new prompt."""
    return {"messages": [new_message("system", ""), new_message("user", "")], "template_format": "mustache",
            "model": "", "params_text": "{}", "commit_message": "", "base_version": None}


def draft_from_version(version: Any) -> dict:
    """A draft holding a saved version's content (what the editor starts from)."""
    return {"messages": [_message_from_version(m) for m in version.messages],
            "template_format": version.template_format or "mustache", "model": version.model or "",
            "params_text": json.dumps(version.params or {}, indent=2, sort_keys=True), "commit_message": "",
            "base_version": version.number}


def draft_messages(draft: dict) -> list[dict]:
    """The draft's messages as the registry takes them ({"role", "content"} plus what rides along)."""
    out = []
    for m in draft.get("messages", []):
        if m["role"] == "placeholder":
            out.append({"role": "placeholder", "name": m["content"].strip()})
            continue
        content: Any = m["content"]
        if m.get("parts"):  # edited as JSON: kept as text when it no longer parses (the registry says why)
            try:
                content = json.loads(content)
            except ValueError:
                pass
        msg = {"role": m["role"], "content": content}
        extra = m.get("extra") or {}
        if m["role"] == "tool" and extra.get("tool_call_id"):
            msg["tool_call_id"] = extra["tool_call_id"]
        if m["role"] == "assistant" and extra.get("tool_calls"):
            msg["tool_calls"] = extra["tool_calls"]
        out.append(msg)
    return out


def parse_params(text: str) -> dict:
    """Parameters typed as a JSON object; raises ValueError with a readable message."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"parameters are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") \
            from None
    if not isinstance(value, dict):
        raise ValueError('parameters must be a JSON object, e.g. {"temperature": 0.2}')
    return value


def is_dirty(draft: dict, version: Any | None) -> bool:
    """Whether the draft differs from the version it started from (None = a new prompt)."""
    if version is None:
        return any(str(m["content"]).strip() for m in draft.get("messages", []))
    try:
        params = parse_params(draft.get("params_text", ""))
    except ValueError:
        return True
    return (draft_messages(draft) != list(version.messages)
            or draft.get("template_format") != version.template_format
            or (draft.get("model") or None) != (version.model or None)
            or params != (version.params or {}))


def move(items: list, index: int, delta: int) -> None:
    """Move items[index] by delta places (bounded), in place."""
    j = index + delta
    if 0 <= index < len(items) and 0 <= j < len(items):
        items[index], items[j] = items[j], items[index]


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags -> list (validation is the registry's)."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


# ---------------------------------------------------------------- workspace summary

def workspace_summary(*, session: Session, recent: int = 10) -> dict:
    """Prompt count, endpoint count, runs in the last 24 h and the most recent runs (bounded queries)."""
    since = utcnow() - timedelta(hours=24)
    prompts = session.exec(select(func.count()).select_from(Prompt).where(Prompt.archived.is_(False))).one()
    endpoints = session.exec(select(func.count()).select_from(Endpoint)).one()
    runs_24h = session.exec(select(func.count()).select_from(Run).where(Run.created_at >= since)).one()
    rows = session.exec(select(Run.id, Run.created_at, Run.source, Run.prompt_name, Run.version_number,
                               Run.endpoint, Run.model, Run.status, Run.latency_ms, Run.cost_usd)
                        .order_by(Run.created_at.desc(), Run.id.desc()).limit(recent)).all()
    return {"prompts": int(prompts), "endpoints": int(endpoints), "runs_24h": int(runs_24h),
            "recent_runs": [{"id": r.id, "time": r.created_at, "source": r.source,
                             "prompt": f"{r.prompt_name}:{r.version_number}" if r.prompt_name else "",
                             "model": f"{r.endpoint}/{r.model}", "status": r.status,
                             "latency_ms": r.latency_ms, "cost_usd": r.cost_usd} for r in rows]}
