"""What the prompt API serves and changes: prompt payloads with their ETag, renders, versions, label moves.

Routes stay thin: each calls one function here. A payload is everything an application needs to
call a model with a version (messages, template format, variables, model, params incl. tools and
response_format), plus its labels and content hash; its ETag is a hash of the payload itself, so
moving a label or saving a version changes it and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session

from lib.errors import NotFoundError
from lib.identity import PROMPT_WRITE, Identity, require
from lib.models import Prompt, PromptVersion
from lib.prompts import (
    create_prompt,
    get_prompt,
    get_version,
    labels_of,
    list_prompts,
    prompt_exists,
    render,
    require_label_move,
    resolve,
    save_version,
    set_label,
    summaries,
)


def ref_of(name: str, *, label: str | None = None, version: int | None = None) -> str:
    """`NAME@LABEL`, `NAME:V` or `NAME` (a label wins; `resolve_ref` then checks the version against it)."""
    if label:
        return f"{name}@{label}"
    return f"{name}:{int(version)}" if version is not None else name


def resolve_ref(session: Session, name: str, label: str | None, version: int | None) -> PromptVersion:
    """The version at a label or number; both given: the label's version, which must be that number (404)."""
    v = resolve(session=session, ref=ref_of(name, label=label, version=version))
    if label and version is not None and v.number != version:
        raise NotFoundError(f"label {label!r} of prompt {name!r} points at version {v.number}, not {version}")
    return v


def version_payload(prompt: Prompt, v: PromptVersion, labels: dict[str, int]) -> dict[str, Any]:
    """One version as the API serves it."""
    params = dict(v.params or {})
    return {
        "name": prompt.name, "description": prompt.description, "tags": list(prompt.tags or []),
        "version": v.number, "labels": sorted(k for k, n in labels.items() if n == v.number),
        "all_labels": dict(sorted(labels.items())), "messages": v.messages, "template_format": v.template_format,
        "variables": list(v.variables or []), "model": v.model, "params": params,
        "tools": params.get("tools"), "response_format": params.get("response_format"),
        "model_overrides": dict(v.model_overrides or {}), "commit_message": v.commit_message,
        "author": v.author, "content_hash": v.content_hash, "created_at": v.created_at.isoformat(),
    }


def etag_of(payload: dict[str, Any]) -> str:
    """A strong ETag: the sha256 of the canonical JSON payload."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak or strong, lists, `*`)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def get_payload(*, session: Session, name: str, label: str | None = None,
                version: int | None = None) -> dict[str, Any]:
    """The payload of NAME at a label, a version number, or its latest version."""
    v = resolve_ref(session, name, label, version)
    prompt = session.get(Prompt, v.prompt_id)
    return version_payload(prompt, v, labels_of(session=session, prompt_id=prompt.id))


def list_payload(*, session: Session, search: str | None = None, tag: str | None = None, sort: str = "updated",
                 page: int = 1, page_size: int = 50) -> dict[str, Any]:
    """A page of prompts (name, description, tags, latest version, labels) and the total count."""
    rows, total = list_prompts(session=session, search=search, tag=tag, sort=sort, page=page, page_size=page_size)
    info = summaries(session=session, prompt_ids=[p.id for p in rows])
    data = [{"name": p.name, "description": p.description, "tags": list(p.tags or []),
             "latest_version": info.get(p.id, {}).get("latest"), "labels": info.get(p.id, {}).get("labels", {}),
             "updated_at": p.updated_at.isoformat()} for p in rows]
    return {"data": data, "total": total, "page": max(1, page), "page_size": max(1, min(page_size, 500))}


def render_payload(*, session: Session, name: str, variables: dict[str, Any], label: str | None = None,
                   version: int | None = None) -> dict[str, Any]:
    """The version's messages rendered with `variables` (MissingVariablesError names every missing one)."""
    v = resolve_ref(session, name, label, version)
    return {"name": name, "version": v.number, "messages": render(v, variables), "model": v.model,
            "params": dict(v.params or {})}


def create_version(*, session: Session, actor: Identity, name: str, messages: list[dict],
                   template_format: str = "mustache", model: str | None = None, params: dict | None = None,
                   commit_message: str = "", description: str = "",
                   tags: list[str] | None = None) -> tuple[dict[str, Any], bool]:
    """Save a version (creating the prompt when new); identical content returns the newest, created=False."""
    require(actor, PROMPT_WRITE)
    if not prompt_exists(session=session, name=name):
        v = create_prompt(session=session, name=name, messages=messages, template_format=template_format,
                          model=model, params=params, commit_message=commit_message, description=description,
                          tags=tags, actor=actor)
        created = True
    else:
        v, created = save_version(session=session, name=name, messages=messages, template_format=template_format,
                                  model=model, params=params, commit_message=commit_message, actor=actor)
    prompt = get_prompt(session=session, name=name)
    return version_payload(prompt, v, labels_of(session=session, prompt_id=prompt.id)), created


def move_label(*, session: Session, actor: Identity, name: str, label: str, version: int) -> dict[str, Any]:
    """Point `label` at `version`; a protected label needs more than a write token."""
    require_label_move(actor, label)  # protected labels as configured (WORKBENCH_PROTECTED_LABELS), before the 404
    get_version(session=session, name=name, number=version)
    set_label(session=session, name=name, label=label, version=version, actor=actor)
    return get_payload(session=session, name=name, label=label)
