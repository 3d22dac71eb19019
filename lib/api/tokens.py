"""Workbench API tokens: created by admins, shown once, stored as sha256, scoped, revocable, rate limited.

A token is `wb_` + 43 url-safe random characters (256 bits), so a plain sha256 is enough to store it:
there is nothing to brute-force. Scopes are `read` (prompts, runs, metrics), `run` (+ model calls) and
`write` (+ versions, unprotected labels); `lib.identity` maps them to actions. Each token has its own
requests-per-minute limit, counted in this process over a sliding minute.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lib import audit
from lib.db import session_scope
from lib.errors import ConflictError, NotFoundError, ValidationError, WorkbenchError
from lib.identity import SCOPES, TOKEN_WRITE, Identity, require
from lib.models import ApiToken, utcnow

log = logging.getLogger(__name__)
PREFIX = "wb_"
DEFAULT_RPM = 600
AUTH_CACHE_S = 2.0  # a revoked token stops working in this process at once, in others within this time
LAST_USED_EVERY_S = 60.0
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class AuthenticationFailed(WorkbenchError):
    """No token, a malformed token, an unknown or a revoked one (HTTP 401)."""

    kind = "authentication"


class RateLimited(WorkbenchError):
    """The token is over its requests per minute (HTTP 429 with Retry-After)."""

    kind = "rate_limited"
    retryable = True

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class TokenInfo:
    """What a list shows of a token (never the token itself)."""

    name: str
    prefix: str
    scopes: list[str]
    rpm: int | None
    created_by: str
    created_at: str
    last_used_at: str | None
    revoked: bool


def hash_token(token: str) -> str:
    """The sha256 hex digest stored for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _scopes(scope: str | list[str]) -> list[str]:
    items = [scope] if isinstance(scope, str) else list(scope)
    out = sorted({s.strip() for s in items if s and s.strip()})
    if not out:
        raise ValidationError(f"scope: give one of {', '.join(SCOPES)}")
    for s in out:
        if s not in SCOPES:
            raise ValidationError(f"scope {s!r}: expected one of {', '.join(SCOPES)}")
    return out


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(name=row.name, prefix=row.prefix, scopes=list(row.scopes or []), rpm=row.rpm,
                     created_by=row.created_by, created_at=row.created_at.isoformat(),
                     last_used_at=row.last_used_at.isoformat() if row.last_used_at else None,
                     revoked=row.revoked_at is not None)


def create_token(*, session: Session, actor: Identity, name: str, scope: str | list[str],
                 rpm: int | None = None) -> tuple[str, TokenInfo]:
    """A new token (returned once, with its listing); only its hash is stored."""
    require(actor, TOKEN_WRITE)
    name = (name or "").strip()
    if not name or len(name) > 100 or not set(name) <= _NAME_CHARS:
        raise ValidationError(f"token name {name!r}: use 1-100 letters, digits, '-', '_' or '.'")
    if rpm is not None and not 1 <= int(rpm) <= 1_000_000:
        raise ValidationError(f"rpm {rpm}: expected 1 to 1000000 requests per minute")
    if session.exec(select(ApiToken).where(ApiToken.name == name)).first() is not None:
        raise ConflictError(f"a token named {name!r} exists; revoke it or choose another name")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), prefix=token[:10], scopes=_scopes(scope),
                   rpm=int(rpm) if rpm is not None else None, created_by=actor.label)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="token.create", object_type="token", object_id=name,
                 summary=f"scopes {', '.join(row.scopes)}; rpm {row.rpm if row.rpm is not None else 'default'}")
    return token, _info(row)


def list_tokens(*, session: Session, include_revoked: bool = True) -> list[TokenInfo]:
    """Every token, newest first (names, scopes, limits, last use; never the token)."""
    q = select(ApiToken)
    if not include_revoked:
        q = q.where(ApiToken.revoked_at.is_(None))
    return [_info(r) for r in session.exec(q.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))]


def revoke_token(*, session: Session, actor: Identity, name: str) -> TokenInfo:
    """Revoke a token by name: it stops working at once here, within seconds in other processes."""
    require(actor, TOKEN_WRITE)
    row = session.exec(select(ApiToken).where(ApiToken.name == name)).first()
    if row is None:
        raise NotFoundError(f"no token named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        audit.record(session, actor=actor, action="token.revoke", object_type="token", object_id=name,
                     summary=f"scopes {', '.join(row.scopes or [])}: stops working")
    _forget(row.token_hash)
    return _info(row)


# -- checking a request's token ----------------------------------------------------------------

@dataclass
class _Cached:
    at: float
    identity: Identity | None
    rpm: int
    token_id: int | None


_auth_cache: dict[str, _Cached] = {}
_last_used: dict[int, float] = {}
_lock = threading.Lock()


def _forget(digest: str) -> None:
    with _lock:
        _auth_cache.pop(digest, None)


def clear_token_cache() -> None:
    """Forget every cached token check (tests, after a bulk change)."""
    with _lock:
        _auth_cache.clear()
        _last_used.clear()


def authenticate(*, engine: Engine, authorization: str | None,
                 clock: Callable[[], float] = time.monotonic) -> tuple[Identity, int]:
    """The token identity and its rpm from an `Authorization: Bearer ...` header, or AuthenticationFailed."""
    if not authorization:
        raise AuthenticationFailed("missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    if not token.startswith(PREFIX) or len(token) > 200:
        raise AuthenticationFailed("invalid token")
    digest = hash_token(token)
    now = clock()
    with _lock:
        hit = _auth_cache.get(digest)
    if hit is None or now - hit.at > AUTH_CACHE_S:
        with session_scope(engine) as s:
            row = s.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
            if row is None or row.revoked_at is not None:
                hit = _Cached(now, None, 0, None)
            else:
                ident = Identity(kind="token", name=row.name, scopes=frozenset(row.scopes or []))
                hit = _Cached(now, ident, row.rpm or DEFAULT_RPM, row.id)
        with _lock:
            _auth_cache[digest] = hit
    if hit.identity is None:
        raise AuthenticationFailed("invalid or revoked token")
    _touch(engine, hit.token_id, now)
    return hit.identity, hit.rpm


def _touch(engine: Engine, token_id: int | None, now: float) -> None:
    """Record last use at most once a minute per token (a write per request would cost more than the call)."""
    if token_id is None:
        return
    with _lock:
        if now - _last_used.get(token_id, -math.inf) < LAST_USED_EVERY_S:
            return
        _last_used[token_id] = now
    # in a thread: this runs on the server's event loop, which a write waiting on a busy SQLite must not block
    threading.Thread(target=_write_last_used, args=(engine, token_id), name="token-last-used", daemon=True).start()


def _write_last_used(engine: Engine, token_id: int) -> None:
    try:
        with session_scope(engine) as s:
            row = s.get(ApiToken, token_id)
            if row is not None:
                row.last_used_at = utcnow()
                s.add(row)
    except Exception as exc:  # noqa: BLE001 - last use is informative; never fail a request on it
        log.warning("could not record a token's last use: %s", type(exc).__name__)


class TokenRateLimiter:
    """Requests per minute per token over a sliding 60 s window (in this process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, name: str, rpm: int) -> None:
        """Count one request for `name`, or raise RateLimited with the seconds until a slot frees."""
        now = self._clock()
        with self._lock:
            q = self._hits.setdefault(name, deque())
            while q and now - q[0] >= 60.0:
                q.popleft()
            if len(q) >= rpm:
                wait = max(1, math.ceil(60.0 - (now - q[0])))
                raise RateLimited(f"token {name!r} is over its limit of {rpm} requests per minute; "
                                  f"retry in {wait}s", retry_after_s=wait)
            q.append(now)
