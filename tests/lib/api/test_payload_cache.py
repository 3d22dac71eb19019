"""The prompt payload cache: served from memory while fresh, a change committed in this process is seen at
once, one made elsewhere (no session hook: another process) after the TTL by one stamp query, and an
unchanged prompt is revalidated without being rebuilt (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, update

from lib.api.payload_cache import PayloadCache, payload_stamp
from lib.db import session_scope
from lib.errors import NotFoundError
from lib.models import Label, LabelEvent, PromptVersion
from lib.prompts import create_prompt, save_version, set_label
from tests.actors import ADMIN


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _seed(engine) -> None:
    with session_scope(engine) as s:
        create_prompt(actor=ADMIN, session=s, name="support", messages=[{"role": "user", "content": "v1"}])
        save_version(actor=ADMIN, session=s, name="support", messages=[{"role": "user", "content": "v2"}])
        set_label(actor=ADMIN, session=s, name="support", label="production", version=1)


def _fetch(cache: PayloadCache, engine, label: str = "production"):
    return asyncio.run(cache.fetch(engine, "support", label, None))


def test_fresh_in_process_change_and_other_process_change(engine):
    _seed(engine)
    clock = Clock()
    cache = PayloadCache(ttl_s=1.0, clock=clock)
    payload, etag = _fetch(cache, engine)
    assert payload["version"] == 1 and cache.get("support", "production", None) == (payload, etag)

    # unchanged after the TTL: one stamp query, the same objects (no rebuild, same precomputed ETag)
    clock.t += 5
    assert cache.get("support", "production", None) is None and cache.known("support", "production", None)
    again, etag2 = _fetch(cache, engine)
    assert again is payload and etag2 == etag

    # a move committed in this process: seen at once, before any TTL
    with session_scope(engine) as s:
        set_label(actor=ADMIN, session=s, name="support", label="production", version=2)
    assert cache.get("support", "production", None) is None
    moved, etag3 = _fetch(cache, engine)
    assert moved["version"] == 2 and etag3 != etag

    # a move made by another process (plain SQL here: no session hook fires) is served after the TTL
    with engine.begin() as conn:
        v1 = conn.execute(PromptVersion.__table__.select().where(PromptVersion.number == 1)).first()
        conn.execute(update(Label).where(Label.name == "production").values(version_id=v1.id))
        conn.execute(insert(LabelEvent).values(prompt_id=v1.prompt_id, label="production", from_version=2,
                                               to_version=1, author="elsewhere"))
    assert _fetch(cache, engine)[0]["version"] == 2  # within the TTL: the entry is still fresh
    clock.t += 1.5
    back, etag4 = _fetch(cache, engine)
    assert back["version"] == 1 and etag4 == etag


def test_a_removed_label_is_not_found_and_forgotten(sqlite_engine):
    _seed(sqlite_engine)
    clock = Clock()
    cache = PayloadCache(ttl_s=1.0, clock=clock)
    _fetch(cache, sqlite_engine)
    with sqlite_engine.begin() as conn:  # removed by another process
        pid = conn.execute(Label.__table__.select()).first().prompt_id
        conn.execute(Label.__table__.delete())
        conn.execute(insert(LabelEvent).values(prompt_id=pid, label="production", from_version=1, to_version=None,
                                               author="elsewhere"))
    clock.t += 2
    with pytest.raises(NotFoundError):
        _fetch(cache, sqlite_engine)
    assert not cache.known("support", "production", None)
    assert payload_stamp(sqlite_engine, "nope") is None
