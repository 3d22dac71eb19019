"""Prompt payloads in memory, so a fetch by label answers with no ORM work and a precomputed ETag.

An entry is (payload, ETag, stamp) per (name, label, version). The stamp is what changes whenever the
prompt's payload can change: the prompt's `updated_at` (new versions, description, tags, archive) and its
newest label event (every move and removal). An entry is served as is while it is fresh: younger than
`ttl_s` and no prompt was committed in this process since it was made (`prompt_generation()`, bumped by a
session hook after every commit that touched a prompt, version or label). Past that it is revalidated by
one small query for the stamp, and rebuilt (ORM) only when the stamp moved. So a change made in this
process (pages, API, CLI in-process) is served at once; one made by another process within `ttl_s`.
Concurrent requests for one stale entry share one revalidation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

from lib.db import session_scope
from lib.errors import NotFoundError
from lib.models import Label, LabelEvent, Prompt, PromptVersion

from .prompt_payloads import etag_of, get_payload

Key = tuple[str, str | None, int | None]
_P = Prompt.__table__  # type: ignore[attr-defined]
_LE = LabelEvent.__table__  # type: ignore[attr-defined]
_TOUCHED = "wb_prompt_touched"

_generation = 0
_hooked = False
_hook_lock = threading.Lock()


def prompt_generation() -> int:
    """A counter bumped after every commit in this process that touched a prompt, a version or a label."""
    return _generation


def _after_flush(session: OrmSession, _ctx: Any) -> None:
    for objs in (session.new, session.dirty, session.deleted):
        if any(isinstance(o, (Prompt, PromptVersion, Label, LabelEvent)) for o in objs):
            session.info[_TOUCHED] = True
            return


def _after_commit(session: OrmSession) -> None:
    global _generation
    if session.info.pop(_TOUCHED, None):
        _generation += 1


def watch_prompt_changes() -> None:
    """Install the session hooks behind `prompt_generation()` (idempotent)."""
    global _hooked
    with _hook_lock:
        if not _hooked:
            event.listen(OrmSession, "after_flush", _after_flush)
            event.listen(OrmSession, "after_commit", _after_commit)
            event.listen(OrmSession, "after_soft_rollback", lambda s, _prev: s.info.pop(_TOUCHED, None))
            _hooked = True


def payload_stamp(engine: Engine, name: str) -> tuple[Any, Any] | None:
    """(updated_at, newest label event id) of a prompt, or None when there is no such prompt."""
    newest_event = select(func.max(_LE.c.id)).where(_LE.c.prompt_id == _P.c.id).scalar_subquery()
    with engine.connect() as conn:
        row = conn.execute(select(_P.c.updated_at, newest_event).where(_P.c.name == name)).first()
    return None if row is None else (row[0], row[1])


@dataclass
class _Entry:
    payload: dict[str, Any]
    etag: str
    stamp: tuple[Any, Any] | None
    checked: float  # monotonic time of the last load or revalidation
    generation: int


class PayloadCache:
    """Payloads and ETags by (name, label, version); bounded (past `max_entries` the oldest half goes)."""

    def __init__(self, ttl_s: float = 1.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.max_entries, self._clock = ttl_s, max_entries, clock
        self._data: dict[Key, _Entry] = {}
        self._lock = threading.Lock()
        self._inflight: dict[Key, asyncio.Task] = {}
        watch_prompt_changes()

    def get(self, name: str, label: str | None, version: int | None) -> tuple[dict[str, Any], str] | None:
        """A fresh (payload, etag), or None (the hot path's check: no I/O)."""
        e = self._data.get((name, label, version))
        if e is None or e.generation != _generation or self._clock() - e.checked > self.ttl_s:
            return None
        return e.payload, e.etag

    def known(self, name: str, label: str | None, version: int | None) -> bool:
        """Whether an entry exists, fresh or not (then a revalidation is one small query)."""
        return (name, label, version) in self._data

    async def fetch(self, engine: Engine, name: str, label: str | None,
                    version: int | None) -> tuple[dict[str, Any], str]:
        """The (payload, etag): fresh from memory, else revalidated or loaded off the loop, one at a time per key."""
        hit = self.get(name, label, version)
        if hit is not None:
            return hit
        key = (name, label, version)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(asyncio.to_thread(self.load, engine, key))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    def load(self, engine: Engine, key: Key) -> tuple[dict[str, Any], str]:
        """Revalidate an entry by its stamp, or (re)build it; NotFoundError when the prompt or label is gone."""
        gen = _generation  # read first: a commit landing during the query is seen by the next check
        now = self._clock()
        stamp = payload_stamp(engine, key[0])
        e = self._data.get(key)
        if e is not None and stamp is not None and e.stamp == stamp:
            e.checked, e.generation = now, gen
            return e.payload, e.etag
        try:
            with session_scope(engine) as s:  # the stamp was read before the payload: a change between is caught next
                payload = get_payload(session=s, name=key[0], label=key[1], version=key[2])
        except NotFoundError:
            with self._lock:
                self._data.pop(key, None)  # gone (or the label was removed): the next fetch goes the slow way
            raise
        etag = etag_of(payload)
        self.put(key, _Entry(payload, etag, stamp, now, gen))
        return payload, etag

    def put(self, key: Key, entry: _Entry) -> None:
        """Remember an entry."""
        with self._lock:
            if len(self._data) >= self.max_entries:
                for k in sorted(self._data, key=lambda k: self._data[k].checked)[: self.max_entries // 2]:
                    del self._data[k]
            self._data[key] = entry

    def forget(self, name: str | None = None) -> None:
        """Drop one prompt's entries (after a write), or all."""
        with self._lock:
            for k in [k for k in self._data if name is None or k[0] == name]:
                del self._data[k]
