"""The audit log: who changed what, when, with a short before -> after summary.

`record()` adds an `AuditEvent` to the caller's session, so the event is written in the
same transaction as the change it describes (a rolled-back change leaves no event). A
summary names things (prompt, label, endpoint, key *variable*) and never holds a key.
Reading the log is an admin action (`audit.read`).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlmodel import Session, func, select

from lib.db import fetch_page
from lib.identity import AUDIT_READ, Identity, require
from lib.models import AuditEvent, utcnow

SUMMARY_MAX = 2000
FIELDS = ("id", "created_at", "actor", "actor_kind", "action", "object_type", "object_id", "summary")


def record(session: Session, *, actor: Identity, action: str, object_type: str, object_id: str | int = "",
           summary: str = "") -> AuditEvent:
    """Add one event to `session` (the caller's transaction commits it with the change)."""
    ev = AuditEvent(created_at=utcnow(), actor=actor.label[:200], actor_kind=actor.kind[:20], action=action[:50],
                    object_type=object_type[:30], object_id=str(object_id)[:300],
                    summary=(summary or "")[:SUMMARY_MAX])
    session.add(ev)
    return ev


def change(before: object, after: object) -> str:
    """`before -> after` as short text (None shows as a dash)."""
    def show(v: object) -> str:
        return "-" if v is None or v == "" else str(v)
    return f"{show(before)} -> {show(after)}"


def diff_fields(before: dict, after: dict) -> str:
    """`field: a -> b; ...` for the fields that changed (for endpoint and price updates)."""
    parts = [f"{k}: {change(before.get(k), after.get(k))}" for k in sorted(set(before) | set(after))
             if before.get(k) != after.get(k)]
    return "; ".join(parts) or "no change"


def _query(actor_filter: str | None, action: str | None, object_type: str | None, since: datetime | None,
           until: datetime | None, search: str | None):
    q = select(AuditEvent)
    if actor_filter:
        q = q.where(AuditEvent.actor == actor_filter)
    if action:
        q = q.where(AuditEvent.action == action)
    if object_type:
        q = q.where(AuditEvent.object_type == object_type)
    if since is not None:
        q = q.where(AuditEvent.created_at >= since)
    if until is not None:
        q = q.where(AuditEvent.created_at < until)
    if search:
        needle = search.strip().lower()
        q = q.where(func.lower(AuditEvent.object_id).contains(needle, autoescape=True)
                    | func.lower(AuditEvent.summary).contains(needle, autoescape=True))
    return q


def list_events(*, session: Session, actor: Identity, who: str | None = None, action: str | None = None,
                object_type: str | None = None, since: datetime | None = None, until: datetime | None = None,
                search: str | None = None, limit: int = 500, offset: int = 0) -> tuple[list[AuditEvent], int]:
    """Events newest first, filtered in SQL, and the total count (admins only)."""
    require(actor, AUDIT_READ)
    q = _query(who, action, object_type, since, until, search)
    return fetch_page(session, q, order_by=(AuditEvent.created_at.desc(), AuditEvent.id.desc()),
                      offset=max(0, offset), limit=max(1, min(int(limit), 10_000)))


def facets(*, session: Session, actor: Identity) -> dict[str, list[str]]:
    """Distinct actors, actions and object types (for filter pickers; admins only)."""
    require(actor, AUDIT_READ)
    return {"actors": sorted(session.exec(select(AuditEvent.actor).distinct())),
            "actions": sorted(session.exec(select(AuditEvent.action).distinct())),
            "object_types": sorted(session.exec(select(AuditEvent.object_type).distinct()))}


_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _safe_cell(v: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (leading blanks skipped, full-width signs too)."""
    text = "" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v))
    return "'" + text if text.lstrip(" \n\u00a0\u3000")[:1] in _TRIGGERS and text.strip() else text


def to_csv(events: list[AuditEvent]) -> bytes:
    """Events as UTF-8 (BOM) CSV, formula cells neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(FIELDS)
    for ev in events:
        w.writerow([_safe_cell(getattr(ev, f)) for f in FIELDS])
    return buf.getvalue().encode("utf-8-sig")


def event_to_dict(ev: AuditEvent) -> dict:
    """JSON-ready dict of one event."""
    return {f: (getattr(ev, f).isoformat() if f == "created_at" else getattr(ev, f)) for f in FIELDS}
