"""Export a prompt (every version, label and label move) to JSON and import it back, losslessly."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from lib import audit
from lib.errors import ConflictError, ValidationError
from lib.identity import PROMPT_WRITE, Identity, require
from lib.models import Label, LabelEvent, Prompt, PromptVersion

from . import templating
from .labels import require_label_move
from .registry import content_hash, get_prompt, validate_label, validate_messages, validate_name, validate_tags

FORMAT = "prompt-workbench.prompt/1"


def _ts(d: datetime | None) -> str | None:
    return d.isoformat() if d else None


def _parse_ts(s: Any, where: str) -> datetime | None:
    if s is None:
        return None
    try:
        return datetime.fromisoformat(str(s))
    except ValueError:
        raise ValidationError(f"{where}: invalid timestamp {s!r}") from None


def export_prompt(*, session: Session, name: str) -> dict:
    """The prompt with all versions, labels and label history as a JSON-ready dict."""
    p = get_prompt(session=session, name=name)
    versions = list(session.exec(select(PromptVersion).where(PromptVersion.prompt_id == p.id)
                                 .order_by(PromptVersion.number)))
    by_id = {v.id: v.number for v in versions}
    labels = {lb.name: by_id[lb.version_id] for lb in
              session.exec(select(Label).where(Label.prompt_id == p.id).order_by(Label.name))}
    events = session.exec(select(LabelEvent).where(LabelEvent.prompt_id == p.id).order_by(LabelEvent.id))
    return {
        "format": FORMAT,
        "prompt": {"name": p.name, "description": p.description, "tags": list(p.tags), "archived": p.archived,
                   "created_at": _ts(p.created_at), "updated_at": _ts(p.updated_at)},
        "versions": [{"number": v.number, "messages": v.messages, "template_format": v.template_format,
                      "model": v.model, "params": v.params, "model_overrides": v.model_overrides,
                      "commit_message": v.commit_message, "author": v.author, "content_hash": v.content_hash,
                      "created_at": _ts(v.created_at)} for v in versions],
        "labels": labels,
        "label_history": [{"label": e.label, "from_version": e.from_version, "to_version": e.to_version,
                           "author": e.author, "created_at": _ts(e.created_at)} for e in events],
    }


def import_prompt(*, session: Session, actor: Identity, data: dict | str, name: str | None = None) -> Prompt:
    """Recreate an exported prompt (optionally under another name); an existing name is a ConflictError.

    Versions keep their exported authors; the import itself is recorded as the actor's.  A failed import
    raises before anything is committed: the caller's transaction rolls back, so no half-imported prompt
    stays behind."""
    require(actor, PROMPT_WRITE)
    return _import(session, actor, data, name)


def _import(session: Session, actor: Identity, data: dict | str, name: str | None) -> Prompt:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(f"not a prompt export: expected \"format\": \"{FORMAT}\"")
    _check_shape(data)
    meta = data.get("prompt") or {}
    pname = validate_name(name or meta.get("name", ""))
    if session.exec(select(Prompt.id).where(Prompt.name == pname)).first() is not None:
        raise ConflictError(f"a prompt named {pname!r} already exists; import it under another name")
    versions = data.get("versions") or []
    if not versions:
        raise ValidationError("the export has no versions")
    numbers = [v.get("number") for v in versions]
    if numbers != list(range(1, len(versions) + 1)):
        raise ValidationError(f"versions must be numbered 1..{len(versions)} in order, got {numbers}")
    for lname in data.get("labels") or {}:
        require_label_move(actor, lname)  # before any write: an editor may not import `production`
    prompt = Prompt(name=pname, description=meta.get("description") or "", tags=validate_tags(meta.get("tags")),
                    archived=bool(meta.get("archived")))
    for field in ("created_at", "updated_at"):
        if meta.get(field):
            setattr(prompt, field, _parse_ts(meta[field], f"prompt.{field}"))
    session.add(prompt)
    session.flush()
    ids = {v["number"]: _add_version(session, prompt.id, v) for v in versions}
    for lname, number in (data.get("labels") or {}).items():
        if number not in ids:
            raise ValidationError(f"label {lname!r} points at version {number}, which the export does not have")
        session.add(Label(prompt_id=prompt.id, name=validate_label(lname), version_id=ids[number]))
    for e in data.get("label_history") or []:
        ev = LabelEvent(prompt_id=prompt.id, label=e["label"], from_version=e.get("from_version"),
                        to_version=e.get("to_version"), author=e.get("author") or "")
        if e.get("created_at"):
            ev.created_at = _parse_ts(e["created_at"], "label_history.created_at")
        session.add(ev)
    labels = data.get("labels") or {}
    audit.record(session, actor=actor, action="prompt.import", object_type="prompt", object_id=pname,
                 summary=f"- -> {pname} ({len(versions)} version{'s' if len(versions) != 1 else ''}"
                         + (f", labels {', '.join(f'{k}={v}' for k, v in sorted(labels.items()))}" if labels else "")
                         + ")")
    session.flush()
    return prompt


def _add_version(session: Session, prompt_id: int, v: dict) -> int:
    """One exported version as a row (validated, its exported author and time kept); returns its id."""
    where = f"version {v['number']}"
    fmt = v.get("template_format") or "mustache"
    try:
        msgs = validate_messages(v.get("messages"), fmt)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None
    row = PromptVersion(prompt_id=prompt_id, number=v["number"], messages=msgs, template_format=fmt,
                        variables=templating.variables(msgs, fmt), model=v.get("model"),
                        params=v.get("params") or {}, model_overrides=v.get("model_overrides") or {},
                        commit_message=v.get("commit_message") or "", author=v.get("author") or "",
                        content_hash=content_hash(msgs, fmt, v.get("model"), v.get("params"),
                                                  v.get("model_overrides")))
    if v.get("created_at"):
        row.created_at = _parse_ts(v["created_at"], f"{where}.created_at")
    session.add(row)
    session.flush()
    return row.id


def _expect(value: Any, kind: type | tuple, where: str, what: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise ValidationError(f"not a valid prompt export: {where} must be {what}, got {type(value).__name__}")


def _check_shape(data: dict) -> None:
    """Types of every field an import reads, so a hand-edited file fails with a message, not a crash."""
    _expect(data.get("prompt"), dict, "\"prompt\"", "an object")
    meta = data.get("prompt") or {}
    _expect(meta.get("name"), str, "prompt.name", "text")
    _expect(meta.get("description"), str, "prompt.description", "text")
    _expect(meta.get("tags"), list, "prompt.tags", "a list")
    _expect(data.get("versions"), list, "\"versions\"", "a list")
    _expect(data.get("labels"), dict, "\"labels\"", "an object of label -> version number")
    _expect(data.get("label_history"), list, "\"label_history\"", "a list")
    for i, v in enumerate(data.get("versions") or []):
        where = f"versions[{i}]"
        _expect(v, dict, where, "an object")
        for field in ("model", "commit_message", "author", "template_format", "created_at"):
            _expect(v.get(field), str, f"{where}.{field}", "text")
        for field in ("params", "model_overrides"):
            _expect(v.get(field), dict, f"{where}.{field}", "an object")
    for label, number in (data.get("labels") or {}).items():
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValidationError(f"not a valid prompt export: label {label!r} must point at a version number")
    for i, e in enumerate(data.get("label_history") or []):
        _expect(e, dict, f"label_history[{i}]", "an object")
        if not isinstance(e.get("label"), str):
            raise ValidationError(f"not a valid prompt export: label_history[{i}].label must be text")


def dumps(data: dict) -> str:
    """Canonical JSON text of an export."""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
