"""Webhooks: admins register URLs; a label move or a new version POSTs a signed JSON event to each.

The body is signed with HMAC-SHA256 under the webhook's secret: `X-Workbench-Signature: sha256=<hex>`
(`verify_signature` is what a receiver runs). Events are taken from committed writes on any surface
(pages, CLI, API) by SQLAlchemy session hooks (`enable_webhooks()`), delivered by one background thread
per process, retried with exponential backoff on connection errors, 429 and 5xx, and every attempt is
a WebhookDelivery row (Settings and `python -m lib webhooks deliveries` show the log). Deliveries
queued in memory are lost if the process stops before they are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from lib.errors import NotFoundError, ValidationError
from lib.identity import WEBHOOK_WRITE, Identity, require
from lib.models import LabelEvent, Prompt, PromptVersion, Webhook, WebhookDelivery, utcnow

log = logging.getLogger(__name__)
EVENTS = ("label.moved", "version.created")
SIGNATURE_HEADER = "X-Workbench-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for a body: `sha256=<hex hmac>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant-time)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header or "")


def _events(events: list[str] | None) -> list[str]:
    out = sorted(set(events or []))
    for e in out:
        if e not in EVENTS:
            raise ValidationError(f"event {e!r}: expected one of {', '.join(EVENTS)}")
    return out


def _info(w: Webhook) -> dict[str, Any]:
    return {"id": w.id, "url": w.url, "events": list(w.events or []) or list(EVENTS), "active": w.active,
            "created_by": w.created_by, "created_at": w.created_at.isoformat()}


def add_webhook(*, session: Session, actor: Identity, url: str,
                events: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """Register a URL; returns its signing secret (shown once) and its listing."""
    require(actor, WEBHOOK_WRITE)
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 1000:
        raise ValidationError(f"webhook url {url!r}: expected an http(s) URL")
    secret = "whsec_" + secrets.token_urlsafe(24)
    w = Webhook(url=url.strip(), secret=secret, events=_events(events), created_by=actor.label)
    session.add(w)
    session.flush()
    return secret, _info(w)


def list_webhooks(*, session: Session) -> list[dict[str, Any]]:
    """Every webhook (never its secret)."""
    return [_info(w) for w in session.exec(select(Webhook).order_by(Webhook.id))]


def remove_webhook(*, session: Session, actor: Identity, webhook_id: int) -> None:
    """Stop delivering to a webhook (it is deactivated; its log stays)."""
    require(actor, WEBHOOK_WRITE)
    w = session.get(Webhook, webhook_id)
    if w is None:
        raise NotFoundError(f"no webhook with id {webhook_id}")
    w.active = False
    session.add(w)
    session.flush()


def deliveries(*, session: Session, webhook_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The delivery log, newest first: one row per attempt."""
    q = select(WebhookDelivery)
    if webhook_id is not None:
        q = q.where(WebhookDelivery.webhook_id == webhook_id)
    rows = session.exec(q.order_by(WebhookDelivery.id.desc()).limit(max(1, min(limit, 1000))))
    return [{"id": d.id, "webhook_id": d.webhook_id, "event_id": d.event_id, "event": d.event,
             "attempt": d.attempt, "status_code": d.status_code, "ok": d.ok, "error": d.error,
             "duration_ms": d.duration_ms, "created_at": d.created_at.isoformat()} for d in rows]


# -- delivery ----------------------------------------------------------------------------------

@dataclass
class RetryPolicy:
    """How often and how patiently to deliver one event to one URL."""

    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    timeout_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))


@dataclass
class _Item:
    engine: Engine
    name: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Dispatcher:
    """One thread that delivers queued events to every matching webhook, with retries, logging each try."""

    def __init__(self, policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._q: queue.Queue[_Item] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=self.policy.timeout_s, transport=transport, follow_redirects=False)
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, engine: Engine, name: str, data: dict[str, Any]) -> None:
        """Queue an event for delivery."""
        self._idle.clear()
        self._q.put(_Item(engine, name, data))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
                self._thread.start()

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued event is delivered or given up (True) or the timeout passes (False)."""
        return self._idle.wait(timeout_s)

    def _run(self) -> None:
        while True:
            try:
                item = self._q.get(timeout=5)
            except queue.Empty:
                if self._q.empty():
                    self._idle.set()
                continue
            try:
                self._deliver(item)
            except Exception:  # noqa: BLE001 - a broken webhook must not stop the others
                log.exception("webhook delivery failed")
            if self._q.empty():
                self._idle.set()

    def _deliver(self, item: _Item) -> None:
        with Session(item.engine) as s:
            hooks = [w for w in s.exec(select(Webhook).where(Webhook.active.is_(True)))
                     if not w.events or item.name in w.events]
            if not hooks:
                return
            data = _resolve(s, item.data)
        body = json.dumps({"id": item.event_id, "event": item.name, "created_at": utcnow().isoformat(),
                           "data": data}, ensure_ascii=False, separators=(",", ":")).encode()
        for w in hooks:
            self._deliver_one(item, w, body, data)

    def _deliver_one(self, item: _Item, w: Webhook, body: bytes, data: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(w.secret, body),
                   "X-Workbench-Event": item.name, "X-Workbench-Delivery": item.event_id,
                   "User-Agent": "prompt-workbench-webhooks/1"}
        for attempt in range(1, self.policy.attempts + 1):
            t0 = time.perf_counter()
            status, error = None, None
            try:
                r = self._http.post(w.url, content=body, headers=headers)
                status = r.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: cannot deliver to {urlsplit(w.url).hostname}"
            ok = error is None
            with Session(item.engine) as s:
                s.add(WebhookDelivery(webhook_id=w.id, event_id=item.event_id, event=item.name, payload=data,
                                      attempt=attempt, status_code=status, ok=ok, error=error,
                                      duration_ms=round((time.perf_counter() - t0) * 1000, 1)))
                s.commit()
            retryable = status is None or status == 429 or status >= 500 or status in (408, 409)
            if ok or not retryable or attempt == self.policy.attempts:
                return
            self._sleep(self.policy.delay(attempt))


def _resolve(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """Event data with the prompt's name (hooks run inside a flush, where only ids are safe to read)."""
    out = dict(data)
    pid = out.pop("prompt_id", None)
    p = session.get(Prompt, pid) if pid is not None else None
    out["prompt"] = p.name if p else None
    return out


# -- capturing events from committed writes -------------------------------------------------------

_dispatcher = Dispatcher()
_enabled = False
_enable_lock = threading.Lock()


def dispatcher() -> Dispatcher:
    """The process's dispatcher."""
    return _dispatcher


def set_dispatcher(d: Dispatcher) -> Dispatcher:
    """Replace the process's dispatcher (tests use short retry delays); returns the old one."""
    global _dispatcher
    old, _dispatcher = _dispatcher, d
    return old


def _after_flush(session: OrmSession, _ctx: Any) -> None:
    found = session.info.setdefault("wb_webhook_events", [])
    for obj in session.new:
        if isinstance(obj, LabelEvent):
            found.append(("label.moved", {"prompt_id": obj.prompt_id, "label": obj.label,
                                          "from_version": obj.from_version, "to_version": obj.to_version,
                                          "author": obj.author}))
        elif isinstance(obj, PromptVersion):
            found.append(("version.created", {"prompt_id": obj.prompt_id, "version": obj.number,
                                              "content_hash": obj.content_hash, "author": obj.author,
                                              "commit_message": obj.commit_message}))


def _after_commit(session: OrmSession) -> None:
    found = session.info.pop("wb_webhook_events", None)
    if not found:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    for name, data in found:
        _dispatcher.submit(engine, name, data)


def _after_rollback(session: OrmSession) -> None:
    session.info.pop("wb_webhook_events", None)


def enable_webhooks() -> None:
    """Deliver events for committed label moves and new versions made in this process (idempotent)."""
    global _enabled
    with _enable_lock:
        if _enabled:
            return
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "after_commit", _after_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _prev: _after_rollback(s))
        _enabled = True
