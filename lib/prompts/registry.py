"""The prompt registry: prompts, immutable versions, labels, archive, import/export.

Persistence functions take keyword arguments and a session; they flush and never commit (the
caller commits).  Writers of one prompt go one at a time: `lock_prompt` (a row lock on
PostgreSQL, the database write lock on SQLite) is held from a version save or a label move to
the caller's commit, so concurrent saves number their versions 1..N with no gap and no clash.
A reference is ``name`` (latest version), ``name:3`` (version 3) or ``name@production`` (label).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlalchemy import String, cast, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from lib import audit
from lib.errors import ConflictError, NotFoundError, ValidationError
from lib.identity import PROMPT_WRITE, Identity, require
from lib.models import Label, Prompt, PromptVersion, utcnow

from . import content, templating

ROLES = content.ROLES
RESERVED_LABELS = ("latest",)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,49}$")
_REF_RE = re.compile(r"^(?P<name>[^:@]+?)(?::(?P<version>[^:@]+)|@(?P<label>[^:@]+))?$")
SORTS = {"updated": Prompt.updated_at.desc(), "name": Prompt.name.asc(), "created": Prompt.created_at.desc()}


# ---------------------------------------------------------------- validation

def validate_name(name: str) -> str:
    """A prompt name: letters, digits, '.', '_' and '-', up to 100 characters."""
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise ValidationError(f"invalid prompt name {name!r}: use letters, digits, '.', '_' or '-' "
                              "(no spaces, ':' or '@'), at most 100 characters")
    return name


def validate_label(label: str) -> str:
    """A label: lower-case letters, digits, '_' and '-'; 'latest' is implicit and reserved."""
    label = (label or "").strip()
    if not _LABEL_RE.match(label):
        raise ValidationError(f"invalid label {label!r}: use lower-case letters, digits, '_' or '-'")
    if label in RESERVED_LABELS:
        raise ValidationError(f"label {label!r} is reserved (it always means the newest version)")
    return label


def validate_tags(tags: list[str] | None) -> list[str]:
    out: list[str] = []
    for t in tags or []:
        t = str(t).strip()
        if not _TAG_RE.match(t):
            raise ValidationError(f"invalid tag {t!r}: letters, digits, space, '.', '_' or '-'")
        if t not in out:
            out.append(t)
    return out


def validate_messages(messages: Any, template_format: str = "mustache") -> list[dict]:
    """Chat messages as [{"role","content"}]; checks roles, text and that the template parses."""
    if not isinstance(messages, list) or not messages:
        raise ValidationError("a prompt needs at least one message")
    clean = [content.validate_message(msg, i) for i, msg in enumerate(messages)]
    if not any(content.has_text(m) for m in clean):
        raise ValidationError("every message is empty: write some text in at least one message")
    templating.check_format(template_format)
    templating.variables(clean, template_format)  # raises TemplateError naming the message
    return clean


def validate_params(params: Any, what: str = "parameters") -> dict:
    """Model parameters (and per-model overrides) must be a JSON object."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValidationError(f"{what} must be a JSON object like {{\"temperature\": 0.2}}, "
                              f"got {type(params).__name__}")
    if what == "parameters":
        return content.validate_modern_params(dict(params))
    for model, override in params.items():  # per-model overrides: {model: {param: value}}
        if isinstance(override, dict):
            try:
                content.validate_modern_params(dict(override))
            except ValidationError as exc:
                raise ValidationError(f"{what} for {model}: {exc}") from None
    return params


def merge_params(version: Any, model: str | None, params: dict | None = None) -> dict[str, Any]:
    """The parameters a call sends: the version's defaults, then its overrides for `model`
    (an `endpoint/model` reference), then the call's own; the one merge every call path uses."""
    merged: dict[str, Any] = dict(version.params or {}) if version is not None else {}
    if version is not None and model:
        override = (version.model_overrides or {}).get(model)
        if override:
            merged.update(override)
    if params:
        merged.update(params)
    return merged


def content_hash(messages: list[dict], template_format: str, model: str | None, params: dict | None,
                 model_overrides: dict | None = None) -> str:
    """Stable hash of what makes a version different from another."""
    blob = json.dumps({"messages": messages, "template_format": template_format, "model": model or None,
                       "params": params or {}, "model_overrides": model_overrides or {}},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------- reads

def get_prompt(*, session: Session, name: str) -> Prompt:
    """The prompt called `name`, archived or not."""
    p = session.exec(select(Prompt).where(Prompt.name == name)).first()
    if p is None:
        raise NotFoundError(f"unknown prompt {name!r}")
    return p


def prompt_exists(*, session: Session, name: str) -> bool:
    return session.exec(select(Prompt.id).where(Prompt.name == name)).first() is not None


def list_versions(*, session: Session, name: str) -> list[PromptVersion]:
    """Every version of a prompt, oldest first."""
    p = get_prompt(session=session, name=name)
    return list(session.exec(select(PromptVersion).where(PromptVersion.prompt_id == p.id)
                             .order_by(PromptVersion.number)))


def latest_version(*, session: Session, prompt_id: int) -> PromptVersion | None:
    return session.exec(select(PromptVersion).where(PromptVersion.prompt_id == prompt_id)
                        .order_by(PromptVersion.number.desc()).limit(1)).first()


def get_version(*, session: Session, name: str, number: int) -> PromptVersion:
    p = get_prompt(session=session, name=name)
    v = session.exec(select(PromptVersion).where(PromptVersion.prompt_id == p.id,
                                                 PromptVersion.number == number)).first()
    if v is None:
        raise NotFoundError(f"prompt {name!r} has no version {number}")
    return v


def get_version_by_id(*, session: Session, version_id: int) -> PromptVersion:
    v = session.get(PromptVersion, version_id)
    if v is None:
        raise NotFoundError(f"unknown prompt version id {version_id}")
    return v


def version_ref(name: str, number: int) -> str:
    """The one label of a version, which is also a valid reference: 'support:3'."""
    return f"{name}:{number}"


def version_refs(*, session: Session) -> dict[str, int]:
    """'name:N' -> version id for every non-archived prompt (by name, newest version first)."""
    rows = session.execute(select(Prompt.name, PromptVersion.number, PromptVersion.id)
                           .join(PromptVersion, PromptVersion.prompt_id == Prompt.id)
                           .where(Prompt.archived.is_(False))
                           .order_by(Prompt.name, PromptVersion.number.desc())).all()
    return {version_ref(n, num): vid for n, num, vid in rows}


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """Split 'name', 'name:3' or 'name@label' into (name, version, label)."""
    m = _REF_RE.match((ref or "").strip())
    if not m:
        raise ValidationError(f"invalid prompt reference {ref!r}: use NAME, NAME:VERSION or NAME@LABEL")
    version = m.group("version")
    if version is not None and not version.isdigit():
        raise ValidationError(f"invalid version {version!r} in {ref!r}: expected a number")
    return m.group("name"), int(version) if version else None, m.group("label")


def resolve(*, session: Session, ref: str) -> PromptVersion:
    """The version a reference points at (latest when it has no suffix)."""
    name, number, label = parse_ref(ref)
    p = get_prompt(session=session, name=name)
    if number is not None:
        return get_version(session=session, name=name, number=number)
    if label and label != "latest":
        row = session.exec(select(Label).where(Label.prompt_id == p.id, Label.name == label)).first()
        if row is None:
            raise NotFoundError(f"prompt {name!r} has no label {label!r}")
        return session.get(PromptVersion, row.version_id)
    v = latest_version(session=session, prompt_id=p.id)
    if v is None:
        raise NotFoundError(f"prompt {name!r} has no versions")
    return v


def labels_of(*, session: Session, prompt_id: int) -> dict[str, int]:
    """Label name -> version number for one prompt."""
    rows = session.exec(select(Label.name, PromptVersion.number)
                        .join(PromptVersion, PromptVersion.id == Label.version_id)
                        .where(Label.prompt_id == prompt_id)).all()
    return {n: v for n, v in sorted(rows)}


def list_prompts(*, session: Session, search: str | None = None, tag: str | None = None,
                 sort: str = "updated", page: int = 1, page_size: int = 50,
                 include_archived: bool = False, archived_only: bool = False) -> tuple[list[Prompt], int]:
    """One page of prompts and the total count, filtered in SQL."""
    if sort not in SORTS:
        raise ValidationError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    q = select(Prompt)
    if archived_only:
        q = q.where(Prompt.archived.is_(True))
    elif not include_archived:
        q = q.where(Prompt.archived.is_(False))
    if search:
        # contains(autoescape): a typed % or _ matches itself, not any text
        needle = search.strip().lower()
        q = q.where(or_(func.lower(Prompt.name).contains(needle, autoescape=True),
                        func.lower(Prompt.description).contains(needle, autoescape=True)))
    if tag:
        q = q.where(cast(Prompt.tags, String).contains(json.dumps(tag), autoescape=True))
    total = session.exec(select(func.count()).select_from(q.subquery())).one()
    page, page_size = max(1, page), max(1, min(page_size, 500))
    rows = session.exec(q.order_by(SORTS[sort], Prompt.id).offset((page - 1) * page_size).limit(page_size))
    return list(rows), int(total)


def summaries(*, session: Session, prompt_ids: list[int]) -> dict[int, dict]:
    """Latest version number and labels for each prompt id (one query each, for a page of prompts)."""
    if not prompt_ids:
        return {}
    latest = dict(session.exec(select(PromptVersion.prompt_id, func.max(PromptVersion.number))
                               .where(PromptVersion.prompt_id.in_(prompt_ids))
                               .group_by(PromptVersion.prompt_id)).all())
    labels: dict[int, dict[str, int]] = {}
    for pid, lname, num in session.exec(
            select(Label.prompt_id, Label.name, PromptVersion.number)
            .join(PromptVersion, PromptVersion.id == Label.version_id).where(Label.prompt_id.in_(prompt_ids))):
        labels.setdefault(pid, {})[lname] = num
    return {pid: {"latest": latest.get(pid), "labels": labels.get(pid, {})} for pid in prompt_ids}


def all_tags(*, session: Session) -> list[str]:
    """Every tag in use (for filter pickers)."""
    tags: set[str] = set()
    for t in session.exec(select(Prompt.tags).where(Prompt.archived.is_(False))):
        tags.update(t or [])
    return sorted(tags)


# ---------------------------------------------------------------- writes

def lock_prompt(*, session: Session, prompt_id: int) -> None:
    """Hold the prompt's write lock until the caller's transaction ends, so what is read next is current.

    A no-op UPDATE of the prompt's row: PostgreSQL locks the row (a concurrent writer waits, then its
    statements see this commit); SQLite begins the write transaction (one writer at a time, waiting up
    to the busy timeout)."""
    session.execute(update(Prompt).where(Prompt.id == prompt_id).values(updated_at=Prompt.updated_at)
                    .execution_options(synchronize_session=False))


def create_prompt(*, session: Session, actor: Identity, name: str, messages: list[dict],
                  template_format: str = "mustache", description: str = "", tags: list[str] | None = None,
                  model: str | None = None, params: dict | None = None, commit_message: str = "",
                  model_overrides: dict | None = None, audit_summary: str = "") -> PromptVersion:
    """Create a prompt and its version 1 (author: the actor); a taken name is a ConflictError."""
    require(actor, PROMPT_WRITE)
    name = validate_name(name)
    messages = validate_messages(messages, template_format)
    params = validate_params(params)
    model_overrides = validate_params(model_overrides, "per-model overrides")
    tags = validate_tags(tags)
    if session.exec(select(Prompt.id).where(Prompt.name == name)).first() is not None:
        raise ConflictError(f"a prompt named {name!r} already exists")
    prompt = Prompt(name=name, description=description or "", tags=tags)
    session.add(prompt)
    try:
        session.flush()
    except IntegrityError:  # created meanwhile by another writer: the caller's transaction rolls back
        raise ConflictError(f"a prompt named {name!r} already exists") from None
    version = _new_version(prompt.id, 1, messages, template_format, model, params, model_overrides,
                           commit_message or "first version", actor.label)
    session.add(version)
    audit.record(session, actor=actor, action="prompt.create", object_type="prompt", object_id=name,
                 summary=audit_summary or f"- -> {name}:1")
    session.flush()
    return version


def _new_version(prompt_id: int, number: int, messages, template_format, model, params, overrides,
                 commit_message, author: str) -> PromptVersion:
    return PromptVersion(
        prompt_id=prompt_id, number=number, messages=messages, template_format=template_format,
        variables=templating.variables(messages, template_format), model=model or None, params=dict(params or {}),
        model_overrides=dict(overrides or {}), commit_message=commit_message or "", author=author[:200],
        content_hash=content_hash(messages, template_format, model, params, overrides))


def save_version(*, session: Session, actor: Identity, name: str, messages: list[dict],
                 template_format: str = "mustache", model: str | None = None, params: dict | None = None,
                 model_overrides: dict | None = None, commit_message: str = "",
                 audit_action: str = "prompt.version") -> tuple[PromptVersion, bool]:
    """Append a version (author: the actor); content identical to the newest returns it with created=False."""
    require(actor, PROMPT_WRITE)
    messages = validate_messages(messages, template_format)
    params, model_overrides = validate_params(params), validate_params(model_overrides, "per-model overrides")
    prompt = get_prompt(session=session, name=name)
    if prompt.archived:
        raise ValidationError(f"prompt {name!r} is archived; restore it before saving a new version")
    digest = content_hash(messages, template_format, model, params, model_overrides)
    latest = latest_version(session=session, prompt_id=prompt.id)
    if latest is not None and latest.content_hash == digest:
        return latest, False  # nothing to write: no lock taken
    lock_prompt(session=session, prompt_id=prompt.id)
    latest = latest_version(session=session, prompt_id=prompt.id)  # read again under the lock: the number is ours
    if latest is not None and latest.content_hash == digest:
        return latest, False
    v = _new_version(prompt.id, (latest.number if latest else 0) + 1, messages, template_format, model,
                     params, model_overrides, commit_message, actor.label)
    session.add(v)
    prompt.updated_at = utcnow()
    session.add(prompt)
    session.flush()
    audit.record(session, actor=actor, action=audit_action, object_type="prompt", object_id=prompt.name,
                 summary=audit.change(f"{prompt.name}:{latest.number}" if latest else None,
                                      f"{prompt.name}:{v.number}"))
    session.flush()
    return v, True


def update_prompt(*, session: Session, actor: Identity, name: str, description: str | None = None,
                  tags: list[str] | None = None) -> Prompt:
    """Change a prompt's description or tags (these are not versioned)."""
    require(actor, PROMPT_WRITE)
    p = get_prompt(session=session, name=name)
    before = {"description": p.description, "tags": ", ".join(p.tags or [])}
    if description is not None:
        p.description = description
    if tags is not None:
        p.tags = validate_tags(tags)
    p.updated_at = utcnow()
    session.add(p)
    audit.record(session, actor=actor, action="prompt.update", object_type="prompt", object_id=p.name,
                 summary=audit.diff_fields(before, {"description": p.description, "tags": ", ".join(p.tags or [])}))
    session.flush()
    return p


def set_archived(*, session: Session, actor: Identity, name: str, archived: bool) -> Prompt:
    """Archive (hide from lists, refuse new versions) or restore a prompt; nothing is deleted."""
    require(actor, PROMPT_WRITE)
    p = get_prompt(session=session, name=name)
    before = p.archived
    p.archived = archived
    p.updated_at = utcnow()
    session.add(p)
    if before != archived:
        audit.record(session, actor=actor, action="prompt.archive" if archived else "prompt.restore",
                     object_type="prompt", object_id=p.name,
                     summary=audit.change("archived" if before else "active", "archived" if archived else "active"))
    session.flush()
    return p


def duplicate(*, session: Session, actor: Identity, name: str, new_name: str) -> PromptVersion:
    """A new prompt whose version 1 is a copy of `name`'s newest version."""
    require(actor, PROMPT_WRITE)
    src = resolve(session=session, ref=name)
    p = get_prompt(session=session, name=name)
    return create_prompt(session=session, actor=actor, name=new_name, messages=src.messages,
                         template_format=src.template_format, description=p.description, tags=list(p.tags),
                         model=src.model, params=src.params, commit_message=f"copied from {name}:{src.number}",
                         audit_summary=f"copy of {name}:{src.number} -> {new_name}:1")


