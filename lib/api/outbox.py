"""Webhook events made durable: outbox rows written with the change, delivered by workers holding leases.

Capture: once `enable_webhooks()` has run, a label move or a new version flushed in any session (pages,
CLI, API) becomes, just before that session commits, one `WebhookOutbox` row per matching active webhook
in the same transaction. A rolled-back change sends nothing; a committed one is delivered even when the
process stops right after the commit (the CLI exits, the server is killed).

Delivery: a `Dispatcher` thread per process claims the due rows of the databases it watches, one at a
time, with a lease (`RetryPolicy.lease_s`); POSTs the stored body signed with the webhook's secret;
records the try as a `WebhookDelivery` row (the delivery log); and settles the row: delivered, due again
after an exponential backoff (connection errors, 408, 409, 429, 5xx), or failed after `attempts` tries
(other statuses fail at once). A worker that stops mid-delivery leaves its lease to run out, and the next
worker (another process, or this one after a restart) sends the row again.

So delivery is **at least once**: a receiver may see an event twice (the worker died after the POST,
before recording it); every try of an event carries the same `X-Workbench-Delivery` id (the body's `id`),
which receivers use to drop repeats.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from lib.models import LabelEvent, Prompt, PromptVersion, Webhook, WebhookDelivery, WebhookOutbox, utcnow

from .webhooks import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)
_T = WebhookOutbox.__table__  # type: ignore[attr-defined]
_FOUND = "wb_webhook_events"  # session.info: events flushed in this transaction, not yet in the outbox
_WAKE = "wb_webhook_wake"  # session.info: outbox rows were added; wake the dispatcher after the commit


def lease_seconds() -> float:
    """How long a claimed row stays a worker's (env WORKBENCH_WEBHOOK_LEASE_S, default 60 s; above timeout_s)."""
    try:
        return max(0.5, float(os.environ.get("WORKBENCH_WEBHOOK_LEASE_S", "60")))
    except ValueError:
        return 60.0


@dataclass
class RetryPolicy:
    """How often and how patiently to deliver one event to one URL."""

    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    timeout_s: float = 10.0
    lease_s: float = field(default_factory=lease_seconds)  # then a claimed row is another worker's to take

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))


def _retryable(status: int | None) -> bool:
    return status is None or status in (408, 409, 429) or status >= 500


class Dispatcher:
    """One thread that delivers the outbox rows of every database it watches, logging each try."""

    def __init__(self, policy: RetryPolicy | None = None, transport: httpx.BaseTransport | None = None,
                 *, poll_s: float = 2.0) -> None:
        self.policy = policy or RetryPolicy()
        self.poll_s = poll_s
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._engines: dict[int, Engine] = {}
        self._backoff: dict[int, tuple[float, float]] = {}  # engine -> (retry at, current pause) after errors
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=self.policy.timeout_s, transport=transport, follow_redirects=False)

    # -- control -------------------------------------------------------------------------------
    def watch(self, engine: Engine) -> None:
        """Deliver this database's outbox from now on (pending rows included), and look at it now."""
        with self._lock:
            self._engines.setdefault(id(engine), engine)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread after the delivery in hand (rows left pending stay in the outbox)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def drain(self, timeout_s: float = 30.0, *, retries: bool = True) -> bool:
        """Wait until no watched outbox has pending rows (True) or the timeout passes (False); with
        `retries=False`, only until none is due now (later retries are left to the next worker)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not any(self._pending(e, due_only=not retries) for e in list(self._engines.values())):
                return True
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.05)

    # -- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.poll_s
            for key, engine in list(self._engines.items()):
                if self._stop.is_set():
                    break
                retry_at, pause = self._backoff.get(key, (0.0, 0.0))
                if time.monotonic() < retry_at:
                    continue
                try:
                    wait = min(wait, self.deliver_due(engine))
                    self._backoff.pop(key, None)
                except Exception as exc:  # noqa: BLE001 - one unreachable database must not stop the others
                    pause = min(60.0, max(1.0, pause * 2))
                    self._backoff[key] = (time.monotonic() + pause, pause)
                    log.warning("webhook outbox of %s: %s; next look in %.0f s", engine.url.database,
                                type(exc).__name__, pause)
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()

    def deliver_due(self, engine: Engine, limit: int = 100) -> float:
        """Deliver up to `limit` due rows, one claim at a time; returns seconds until the next is due."""
        for _ in range(limit):
            if self._stop.is_set():
                return 0.0
            row_id = self._claim(engine)
            if row_id is None:
                break
            self._deliver(engine, row_id)
        else:
            return 0.0  # more may be due: look again at once
        with engine.connect() as conn:
            nxt = conn.execute(select(func.min(_T.c.next_attempt_at)).where(_T.c.state == "pending")).scalar()
        if nxt is None:
            return self.poll_s
        if nxt.tzinfo is None:
            nxt = nxt.replace(tzinfo=utcnow().tzinfo)
        return max(0.0, min(self.poll_s, (nxt - utcnow()).total_seconds()))

    def _claim(self, engine: Engine) -> int | None:
        """Lease the oldest due row (a conditional update, so two workers never hold the same row)."""
        now = utcnow()
        free = or_(_T.c.lease_until.is_(None), _T.c.lease_until < now)
        with engine.begin() as conn:
            due = conn.execute(select(_T.c.id).where(_T.c.state == "pending", _T.c.next_attempt_at <= now, free)
                               .order_by(_T.c.id).limit(5)).scalars().all()
            for row_id in due:
                got = conn.execute(update(_T).where(_T.c.id == row_id, _T.c.state == "pending", free).values(
                    lease_owner=self.owner, lease_until=now + timedelta(seconds=self.policy.lease_s),
                    attempts=_T.c.attempts + 1))
                if got.rowcount == 1:
                    return int(row_id)
        return None

    def _deliver(self, engine: Engine, row_id: int) -> None:
        with Session(engine) as s:
            row = s.get(WebhookOutbox, row_id)
            hook = s.get(Webhook, row.webhook_id) if row is not None else None
            if row is None:
                return
            if hook is None or not hook.active:
                self._settle(engine, row_id, state="cancelled", error="webhook removed")
                return
            hook_id, url, secret = hook.id, hook.url, hook.secret
            body, name, event_id, attempt = row.body, row.event, row.event_id, row.attempts
        raw = body.encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw),
                   "X-Workbench-Event": name, "X-Workbench-Delivery": event_id,
                   "User-Agent": "prompt-workbench-webhooks/1"}
        t0 = time.perf_counter()
        status, error = None, None
        try:
            status = self._http.post(url, content=raw, headers=headers).status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: cannot deliver to {urlsplit(url).hostname}"
        duration = round((time.perf_counter() - t0) * 1000, 1)
        if error is None:
            state = "delivered"
        elif _retryable(status) and attempt < self.policy.attempts:
            state = "pending"
        else:
            state = "failed"
        with Session(engine) as s:
            s.add(WebhookDelivery(webhook_id=hook_id, event_id=event_id, event=name,
                                  payload=json.loads(body).get("data") or {}, attempt=attempt, status_code=status,
                                  ok=error is None, error=error, duration_ms=duration))
            s.commit()
        self._settle(engine, row_id, state=state, error=error,
                     retry_in_s=self.policy.delay(attempt) if state == "pending" else None)

    def _settle(self, engine: Engine, row_id: int, *, state: str, error: str | None = None,
                retry_in_s: float | None = None) -> None:
        """Release the lease with the row's new state (only while this worker still holds it)."""
        now = utcnow()
        values: dict[str, Any] = {"state": state, "lease_owner": None, "lease_until": None, "last_error": error}
        if retry_in_s is not None:
            values["next_attempt_at"] = now + timedelta(seconds=retry_in_s)
        else:
            values["finished_at"] = now
        with engine.begin() as conn:
            conn.execute(update(_T).where(_T.c.id == row_id, _T.c.lease_owner == self.owner).values(**values))

    def _pending(self, engine: Engine, *, due_only: bool) -> int:
        q = select(func.count()).select_from(_T).where(_T.c.state == "pending")
        if due_only:
            q = q.where(_T.c.next_attempt_at <= utcnow())
        try:
            with engine.connect() as conn:
                return int(conn.execute(q).scalar() or 0)
        except Exception:  # noqa: BLE001 - an unreachable database has nothing this process can deliver
            return 0


# -- capturing events from committed writes -------------------------------------------------------

_dispatcher = Dispatcher()
_enabled = False
_enable_lock = threading.Lock()


def dispatcher() -> Dispatcher:
    """The process's dispatcher."""
    return _dispatcher


def set_dispatcher(d: Dispatcher) -> Dispatcher:
    """Replace the process's dispatcher (tests use short retry delays); the old one stops and is returned."""
    global _dispatcher
    old, _dispatcher = _dispatcher, d
    if old is not d:
        old.stop()
    return old


def _after_flush(session: OrmSession, _ctx: Any) -> None:
    found = session.info.setdefault(_FOUND, [])
    for obj in session.new:
        if isinstance(obj, LabelEvent):
            found.append(("label.moved", {"prompt_id": obj.prompt_id, "label": obj.label,
                                          "from_version": obj.from_version, "to_version": obj.to_version,
                                          "author": obj.author}))
        elif isinstance(obj, PromptVersion):
            found.append(("version.created", {"prompt_id": obj.prompt_id, "version": obj.number,
                                              "content_hash": obj.content_hash, "author": obj.author,
                                              "commit_message": obj.commit_message}))


def _before_commit(session: OrmSession) -> None:
    """Write the transaction's events to the outbox, so they commit (or roll back) with the change."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # events of objects not flushed yet are collected first
    found = session.info.pop(_FOUND, None)
    if not found:
        return
    hooks = list(session.execute(select(Webhook).where(Webhook.active.is_(True))).scalars())
    for name, data in found:
        targets = [w for w in hooks if not w.events or name in w.events]
        if not targets:
            continue
        event_id = uuid.uuid4().hex
        body = json.dumps({"id": event_id, "event": name, "created_at": utcnow().isoformat(),
                           "data": _resolve(session, data)}, ensure_ascii=False, separators=(",", ":"))
        for w in targets:
            session.add(WebhookOutbox(webhook_id=w.id, event_id=event_id, event=name, body=body))
        session.info[_WAKE] = True


def _resolve(session: OrmSession, data: dict[str, Any]) -> dict[str, Any]:
    """Event data with the prompt's name (the flush hook only reads ids)."""
    out = dict(data)
    pid = out.pop("prompt_id", None)
    p = session.get(Prompt, pid) if pid is not None else None
    out["prompt"] = p.name if p else None
    return out


def _after_commit(session: OrmSession) -> None:
    if not session.info.pop(_WAKE, None):
        return
    bind = session.get_bind()
    _dispatcher.watch(bind if isinstance(bind, Engine) else bind.engine)


def _after_rollback(session: OrmSession) -> None:
    session.info.pop(_FOUND, None)
    session.info.pop(_WAKE, None)


def enable_webhooks(engine: Engine | None = None) -> None:
    """Write events for label moves and new versions made in this process to the outbox (idempotent); with
    `engine`, also deliver that database's outbox from now on, including what an earlier process left."""
    global _enabled
    with _enable_lock:
        if not _enabled:
            event.listen(OrmSession, "after_flush", _after_flush)
            event.listen(OrmSession, "before_commit", _before_commit)
            event.listen(OrmSession, "after_commit", _after_commit)
            event.listen(OrmSession, "after_soft_rollback", lambda s, _prev: _after_rollback(s))
            _enabled = True
    if engine is not None:
        _dispatcher.watch(engine)
