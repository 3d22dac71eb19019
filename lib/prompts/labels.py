"""Labels (`production`, `staging`, custom) pointing at prompt versions, with their history.

Moving a label is how a version is promoted; rollback moves it back to where it was
before its last move.  Every move is a LabelEvent row and an audit event, both carrying the
actor and written in the same transaction.  Protected labels (settings `protected_labels`,
default `production`) need the admin action `label.move_protected`; other labels need
`label.move` (editors).

Transactions: a move flushes and never commits; the caller commits (its pending work goes in
the same transaction, so nothing the caller did is lost or committed early).  A move first takes
the prompt's write lock (`registry.lock_prompt`, held to the caller's commit: moves and version
saves of one prompt go one at a time on SQLite and PostgreSQL), then reads the label and writes
ONE conditional statement (``UPDATE label ... WHERE version_id = <the version just read>``, an
INSERT for a new label, a conditional DELETE for a removal) with its history event.  So an
event's ``from_version`` is always the version the label really held and rollback returns there;
the conditions only guard against a writer that skipped the lock (a ConflictError, nothing written).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import delete, update
from sqlmodel import Session, select

from lib import audit
from lib.errors import ConflictError, NotFoundError, ValidationError
from lib.identity import LABEL_MOVE, LABEL_MOVE_PROTECTED, Identity, require
from lib.models import Label, LabelEvent, Prompt, PromptVersion, utcnow
from lib.settings import get_settings

from .registry import get_prompt, get_version, lock_prompt, validate_label

T = TypeVar("T")


class _Moved(Exception):
    """The label changed between the read and the conditional write (a writer that skipped the lock)."""


def _current(session: Session, prompt_id: int, label: str) -> Label | None:
    return session.exec(select(Label).where(Label.prompt_id == prompt_id, Label.name == label)).first()


def is_protected(label: str) -> bool:
    """Whether only admins may move `label` (settings `protected_labels`)."""
    return (label or "").strip() in get_settings().protected_labels


def require_label_move(actor: Identity, label: str) -> None:
    """Refuse unless `actor` may move `label` (protected labels: admins only)."""
    require(actor, LABEL_MOVE)
    if is_protected(label):
        require(actor, LABEL_MOVE_PROTECTED)


def _locked(session: Session, prompt_id: int, attempt: Callable[[], T]) -> T:
    """Run one move under the prompt's write lock, in the caller's transaction (flushed, not committed)."""
    lock_prompt(session=session, prompt_id=prompt_id)
    try:
        out = attempt()
    except _Moved:
        raise ConflictError("the label moved under a concurrent change; look at it again and retry") from None
    session.flush()
    return out


def _move(session: Session, *, prompt_id: int, label: str, target: PromptVersion, actor: Identity, action: str,
          only_from: int | None = None, check_from: bool = False) -> Label:
    """One attempt: move the label from the version it holds now to `target` (or do nothing if it is there)."""
    row = _current(session, prompt_id, label)
    before_id = row.version_id if row else None
    before = session.get(PromptVersion, before_id).number if row else None
    if check_from and before != only_from:
        raise ValidationError(f"label {label!r} moved meanwhile (now at version {before}); look at its history again")
    now = utcnow()
    if row is None:
        row = Label(prompt_id=prompt_id, name=label, version_id=target.id, updated_at=now)
        session.add(row)
        session.flush()  # the unique key (prompt, name) still refuses a second label of that name
    elif before_id == target.id:
        return row
    else:
        res = session.execute(update(Label).where(Label.id == row.id, Label.version_id == before_id)
                              .values(version_id=target.id, updated_at=now)
                              .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise _Moved()
        session.expire(row)
    session.add(LabelEvent(prompt_id=prompt_id, label=label, from_version=before, to_version=target.number,
                           kind="rollback" if action == "label.rollback" else "promote", author=actor.label[:200]))
    audit.record(session, actor=actor, action=action, object_type="label",
                 object_id=f"{_prompt_name(session, prompt_id)}@{label}", summary=audit.change(before, target.number))
    session.flush()
    return row


def _prompt_name(session: Session, prompt_id: int) -> str:
    return session.get(Prompt, prompt_id).name


def set_label(*, session: Session, actor: Identity, name: str, label: str, version: int) -> Label:
    """Point `label` at version number `version` (promote); records the move and who made it."""
    label = validate_label(label)
    require_label_move(actor, label)
    prompt = get_prompt(session=session, name=name)
    target = get_version(session=session, name=name, number=version)
    prompt_id = prompt.id
    return _locked(session, prompt_id, lambda: _move(session, prompt_id=prompt_id, label=label, target=target,
                                                     actor=actor, action="label.move"))


def remove_label(*, session: Session, actor: Identity, name: str, label: str) -> None:
    """Take a label off a prompt (recorded in the history)."""
    require_label_move(actor, label)
    prompt_id = get_prompt(session=session, name=name).id

    def attempt() -> None:
        row = _current(session, prompt_id, label)
        if row is None:
            raise NotFoundError(f"prompt {name!r} has no label {label!r}")
        before_id = row.version_id
        before = session.get(PromptVersion, before_id).number
        res = session.execute(delete(Label).where(Label.id == row.id, Label.version_id == before_id)
                              .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise _Moved()
        session.expunge(row)
        session.add(LabelEvent(prompt_id=prompt_id, label=label, from_version=before, to_version=None,
                               kind="remove", author=actor.label[:200]))
        audit.record(session, actor=actor, action="label.remove", object_type="label", object_id=f"{name}@{label}",
                     summary=audit.change(before, None))
        session.flush()

    _locked(session, prompt_id, attempt)


def label_history(*, session: Session, name: str, label: str | None = None) -> list[LabelEvent]:
    """Moves of one label (or all labels) of a prompt, newest first."""
    prompt = get_prompt(session=session, name=name)
    q = select(LabelEvent).where(LabelEvent.prompt_id == prompt.id)
    if label:
        q = q.where(LabelEvent.label == label)
    return list(session.exec(q.order_by(LabelEvent.created_at.desc(), LabelEvent.id.desc())))


def rollback_target(*, session: Session, name: str, label: str) -> int | None:
    """The version a rollback of `label` would return to (None: nothing earlier, e.g. its first promote)."""
    history = label_history(session=session, name=name, label=label)
    return history[0].from_version if history else None


def rollback(*, session: Session, actor: Identity, name: str, label: str = "production") -> Label:
    """Move `label` back to the version it pointed at before its last move."""
    require_label_move(actor, label)
    prompt_id = get_prompt(session=session, name=name).id

    def attempt() -> Label:
        history = label_history(session=session, name=name, label=label)
        if not history or history[0].from_version is None:
            raise ValidationError(f"label {label!r} of prompt {name!r} has no earlier version to roll back to")
        last = history[0]
        target = get_version(session=session, name=name, number=last.from_version)
        try:  # the label must still be where its last event left it, or that event is not the last
            return _move(session, prompt_id=prompt_id, label=label, target=target, actor=actor,
                         action="label.rollback", only_from=last.to_version, check_from=True)
        except ValidationError:
            raise _Moved() from None

    return _locked(session, prompt_id, attempt)
