"""Opt-in response cache keyed on endpoint, model, messages and params, with a TTL.

Only successful responses are stored; errors and incomplete streams never are.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.models import ResponseCache, utcnow

DEFAULT_TTL_S = 24 * 3600


def cache_key(endpoint: str, model: str, messages: list[dict], params: dict[str, Any], mode: str = "chat") -> str:
    """A stable sha256 over what determines the answer."""
    blob = json.dumps({"e": endpoint, "m": model, "msgs": messages, "p": params, "mode": mode},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def get(engine: Engine, key: str) -> dict | None:
    """The cached response dict, or None if absent or expired."""
    with Session(engine) as s:
        row = s.get(ResponseCache, key)
        if row is None:
            return None
        exp = row.expires_at
        if exp.tzinfo is None:  # defensive: SQLite text without offset

            exp = exp.replace(tzinfo=UTC)
        if exp <= utcnow():
            return None
        return dict(row.response)


def put(engine: Engine, key: str, response: dict, ttl_s: float = DEFAULT_TTL_S) -> None:
    """Store (or refresh) a successful response."""
    now = utcnow()
    with Session(engine) as s:
        row = s.get(ResponseCache, key)
        if row is None:
            row = ResponseCache(key=key, response=response, created_at=now, expires_at=now + timedelta(seconds=ttl_s))
        else:
            row.response, row.created_at, row.expires_at = response, now, now + timedelta(seconds=ttl_s)
        s.add(row)
        s.commit()


def purge_expired(engine: Engine) -> int:
    """Delete expired entries; returns how many."""
    with Session(engine) as s:
        res = s.exec(delete(ResponseCache).where(ResponseCache.expires_at <= utcnow()))  # type: ignore[call-overload]
        s.commit()
        return int(res.rowcount or 0)
