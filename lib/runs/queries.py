"""Run-log queries for the CLI and the History page: filter, search, page, show, rate."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_
from sqlmodel import Session, select

from lib.db import fetch_page, session_scope
from lib.errors import NotFoundError, ValidationError
from lib.identity import RUN, Identity, require
from lib.models import Run

SORTS = {"newest": (Run.created_at.desc(), Run.id.desc()), "oldest": (Run.created_at.asc(), Run.id.asc()),
         "slowest": (Run.latency_ms.desc(), Run.id.desc()), "costliest": (Run.cost_usd.desc(), Run.id.desc())}


def _filtered(stmt, *, search: str | None, source: str | None, status: str | None, endpoint: str | None,
              model: str | None, prompt_name: str | None, version_id: int | None, compare_id: str | None,
              batch_job_id: int | None, rated: bool | None, since: datetime | None, until: datetime | None,
              user: str | None = None, exclude_source: str | None = None):
    if exclude_source:
        stmt = stmt.where(Run.source != exclude_source)
    if user:
        stmt = stmt.where(Run.actor == user)
    if source:
        stmt = stmt.where(Run.source == source)
    if status:
        stmt = stmt.where(Run.status == status)
    if endpoint:
        stmt = stmt.where(Run.endpoint == endpoint)
    if model:
        if "/" in model and not endpoint:
            ep, m = model.split("/", 1)
            stmt = stmt.where(or_(Run.model == model, (Run.endpoint == ep) & (Run.model == m)))
        else:
            stmt = stmt.where(Run.model == model)
    if prompt_name:
        stmt = stmt.where(Run.prompt_name == prompt_name)
    if version_id is not None:
        stmt = stmt.where(Run.version_id == version_id)
    if compare_id:
        stmt = stmt.where(Run.compare_id == compare_id)
    if batch_job_id is not None:
        stmt = stmt.where(Run.batch_job_id == batch_job_id)
    if rated is True:
        stmt = stmt.where(Run.rating.is_not(None))  # type: ignore[union-attr]
    elif rated is False:
        stmt = stmt.where(Run.rating.is_(None))  # type: ignore[union-attr]
    if since is not None:
        stmt = stmt.where(Run.created_at >= since)
    if until is not None:
        stmt = stmt.where(Run.created_at < until)
    if search:
        # contains(autoescape) so a typed % or _ is literal; JSON columns hold the text JSON-encoded
        # (non-ASCII as \\u00e9, quotes as \\"), so they are searched for the encoded form too.
        q = search.lower()
        enc = json.dumps(q)[1:-1]
        conds = [func.lower(Run.output).contains(q, autoescape=True),
                 func.lower(func.coalesce(Run.error_message, "")).contains(q, autoescape=True)]
        for col in (Run.messages, Run.variables):
            conds += [func.lower(cast(col, String)).contains(v, autoescape=True) for v in {q, enc}]
        stmt = stmt.where(or_(*conds))
    return stmt


def list_runs(*, session: Session, search: str | None = None, source: str | None = None, status: str | None = None,
              endpoint: str | None = None, model: str | None = None, prompt_name: str | None = None,
              version_id: int | None = None, compare_id: str | None = None, batch_job_id: int | None = None,
              rated: bool | None = None, since: datetime | None = None, until: datetime | None = None,
              sort: str = "newest", page: int = 1, page_size: int = 50,
              user: str | None = None, exclude_source: str | None = None) -> tuple[list[Run], int]:
    """A page of runs matching the filters (text search over inputs, outputs and errors; `user` = who made the
    call, an identity label; `exclude_source` leaves one source out, e.g. batch) and the total count."""
    if sort not in SORTS:
        raise ValidationError(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
    if page < 1 or not 1 <= page_size <= 1000:
        raise ValidationError("page must be >= 1 and page_size between 1 and 1000")
    kw: dict[str, Any] = dict(search=search, source=source, status=status, endpoint=endpoint, model=model,
                              prompt_name=prompt_name, version_id=version_id, compare_id=compare_id,
                              batch_job_id=batch_job_id, rated=rated, since=since, until=until, user=user,
                              exclude_source=exclude_source)
    return fetch_page(session, _filtered(select(Run), **kw), order_by=SORTS[sort], offset=(page - 1) * page_size,
                      limit=page_size)


def get_run(*, session: Session, run_id: int) -> Run:
    """One run by id."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run with id {run_id}")
    return run


def run_users(*, session: Session) -> list[str]:
    """Everyone who made a call (identity labels), for a History filter."""
    return sorted(u for u in session.exec(select(Run.actor).where(Run.actor.is_not(None)).distinct()) if u)


def rate_run(run_id: int, rating: int | None, note: str | None = None, *, actor: Identity,
             session: Session | None = None) -> Run:
    """Store a human rating (+1 / -1; 0 or None clears) and an optional note on a run (editors)."""
    require(actor, RUN)
    if rating not in (1, -1, 0, None):
        raise ValidationError(f"rating must be +1, -1 or 0 (clear), got {rating!r}")
    if session is None:
        with session_scope() as s:
            return rate_run(run_id, rating, note, actor=actor, session=s)
    run = get_run(session=session, run_id=run_id)
    run.rating = rating or None
    if note is not None:
        run.note = note or None
    session.add(run)
    session.flush()
    return run


def run_to_dict(run: Run, full: bool = True) -> dict[str, Any]:
    """A run as a JSON-ready dict (without the message list and raw usage unless `full`)."""
    data = run.model_dump(mode="json")
    if not full:
        for k in ("messages", "usage_raw", "params", "variables"):
            data.pop(k, None)
    return data
