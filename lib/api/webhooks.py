"""Webhooks: admins register URLs; a label move or a new version POSTs a signed JSON event to each.

The body is signed with HMAC-SHA256 under the webhook's secret: `X-Workbench-Signature: sha256=<hex>`
(`verify_signature` is what a receiver runs). This module registers webhooks and reads the delivery log;
`outbox.py` turns committed writes into outbox rows and delivers them (durably, at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, func, select

from lib import audit
from lib.errors import NotFoundError, ValidationError
from lib.identity import WEBHOOK_WRITE, Identity, require
from lib.models import Webhook, WebhookDelivery, WebhookOutbox

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


def _where(url: str) -> str:
    """A webhook URL's scheme, host and port only: paths and queries often hold the receiver's own secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/..."


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
    audit.record(session, actor=actor, action="webhook.add", object_type="webhook", object_id=w.id,
                 summary=f"{_where(w.url)}; events {', '.join(w.events or EVENTS)}")
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
    if w.active:
        audit.record(session, actor=actor, action="webhook.remove", object_type="webhook", object_id=w.id,
                     summary=f"{_where(w.url)}: no more deliveries")
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


def outbox_summary(*, session: Session) -> dict[str, int]:
    """How many outbox rows are pending (waiting for a first try or a retry), delivered, failed or cancelled."""
    counts = dict(session.exec(select(WebhookOutbox.state, func.count()).group_by(WebhookOutbox.state)).all())
    return {k: int(counts.get(k, 0)) for k in ("pending", "delivered", "failed", "cancelled")}
