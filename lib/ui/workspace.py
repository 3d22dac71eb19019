"""A person's page working state kept in the database: what was on screen comes back after a reload.

Pages store their widget values (JSON-able ones only) under their key prefix; a new browser session
(reload, new tab, restart) restores them.  Values that cannot be stored as JSON (files, dates, frames)
are left out rather than stored half-way.

Transactions: functions here flush and never commit; the caller commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from lib.models import PageState, utcnow

MAX_STATE_BYTES = 256_000  # a page's state is form values, not documents: a cap keeps a row small
_SCALARS = (str, int, float, bool, type(None))


def storable(value: Any) -> bool:
    """True for values that survive a JSON round trip unchanged (scalars, lists and str-keyed dicts of them)."""
    if isinstance(value, _SCALARS):
        return not (isinstance(value, float) and value != value)
    if isinstance(value, (list, tuple)):
        return all(storable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and storable(v) for k, v in value.items())
    return False


def load_page_state(*, session: Session, owner: str, page: str) -> dict[str, Any]:
    """The stored widget values of `page` for `owner` ({} when none)."""
    row = session.exec(select(PageState).where(PageState.owner == owner, PageState.page == page)).first()
    return dict(row.state or {}) if row is not None else {}


def save_page_state(*, session: Session, owner: str, page: str, state: dict[str, Any]) -> dict[str, Any]:
    """Store the JSON-able values of `state` as `page`'s state for `owner`; returns what was stored."""
    keep = {k: list(v) if isinstance(v, tuple) else v for k, v in state.items() if storable(v)}
    while keep and len(repr(keep)) > MAX_STATE_BYTES:  # drop the biggest values first
        del keep[max(keep, key=lambda k: len(repr(keep[k])))]
    for _ in range(2):  # a second tab may insert the same row first: then update that one
        row = session.exec(select(PageState).where(PageState.owner == owner, PageState.page == page)).first()
        try:
            with session.begin_nested():
                if row is None:
                    session.add(PageState(owner=owner, page=page, state=keep))
                else:
                    row.state, row.updated_at = keep, utcnow()
                    session.add(row)
            return keep
        except IntegrityError:
            continue
    return keep
