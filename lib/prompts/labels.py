"""Labels (`production`, `staging`, custom) pointing at prompt versions, with their history.

Moving a label is how a version is promoted; rollback moves it back to where it was
before its last move.  Every move is a LabelEvent row.
"""

from __future__ import annotations

from sqlmodel import Session, select

from lib.errors import NotFoundError, ValidationError
from lib.models import Label, LabelEvent, PromptVersion, utcnow
from lib.settings import get_settings

from .registry import get_prompt, get_version, validate_label


def _current(session: Session, prompt_id: int, label: str) -> Label | None:
    return session.exec(select(Label).where(Label.prompt_id == prompt_id, Label.name == label)).first()


def set_label(*, session: Session, name: str, label: str, version: int, author: str | None = None) -> Label:
    """Point `label` at version number `version` (promote); records the move."""
    label = validate_label(label)
    prompt = get_prompt(session=session, name=name)
    target = get_version(session=session, name=name, number=version)
    row = _current(session, prompt.id, label)
    before = session.get(PromptVersion, row.version_id).number if row else None
    if row is None:
        row = Label(prompt_id=prompt.id, name=label, version_id=target.id)
    elif before == version:
        return row
    row.version_id, row.updated_at = target.id, utcnow()
    session.add(row)
    session.add(LabelEvent(prompt_id=prompt.id, label=label, from_version=before, to_version=version,
                           author=author if author is not None else get_settings().resolved_author()))
    session.commit()
    return row


def remove_label(*, session: Session, name: str, label: str, author: str | None = None) -> None:
    """Take a label off a prompt (recorded in the history)."""
    prompt = get_prompt(session=session, name=name)
    row = _current(session, prompt.id, label)
    if row is None:
        raise NotFoundError(f"prompt {name!r} has no label {label!r}")
    before = session.get(PromptVersion, row.version_id).number
    session.delete(row)
    session.add(LabelEvent(prompt_id=prompt.id, label=label, from_version=before, to_version=None,
                           author=author if author is not None else get_settings().resolved_author()))
    session.commit()


def label_history(*, session: Session, name: str, label: str | None = None) -> list[LabelEvent]:
    """Moves of one label (or all labels) of a prompt, newest first."""
    prompt = get_prompt(session=session, name=name)
    q = select(LabelEvent).where(LabelEvent.prompt_id == prompt.id)
    if label:
        q = q.where(LabelEvent.label == label)
    return list(session.exec(q.order_by(LabelEvent.created_at.desc(), LabelEvent.id.desc())))


def rollback(*, session: Session, name: str, label: str = "production", author: str | None = None) -> Label:
    """Move `label` back to the version it pointed at before its last move."""
    history = label_history(session=session, name=name, label=label)
    if not history or history[0].from_version is None:
        raise ValidationError(f"label {label!r} of prompt {name!r} has no earlier version to roll back to")
    return set_label(session=session, name=name, label=label, version=history[0].from_version, author=author)
