"""The worker's database side: claiming items with leases, renewing and releasing them, and
writing finished items (Run + Score + item state + job spend) in one short transaction.

Claims are one statement: SQLite takes its write lock for an atomic ``UPDATE ... WHERE id IN
(SELECT ... LIMIT n) RETURNING``; PostgreSQL adds ``FOR UPDATE SKIP LOCKED`` to the inner
select so several workers never claim the same item.  Every write is conditional on the
lease owner: `persist` first marks the items this worker still holds (one UPDATE ... RETURNING,
which also locks them), then writes Run rows, scores, item states and spend for THOSE items only,
all in one transaction.  A worker that lost its lease (stopped, or slower than its lease) therefore
leaves no orphan Run row and adds no spend; it learns which items it lost and stops claiming.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, TypeDecorator, and_, bindparam, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.errors import NotFoundError
from lib.identity import RUN
from lib.models import BatchItem, BatchJob, DatasetRow, Prompt, PromptVersion, Run, Score, utcnow
from lib.runs import make_storable, storable_text
from lib.users import lost_permission

from .owners import is_dead_local

_ITEM = BatchItem.__table__
_RUN = Run.__table__
_SCORE = Score.__table__
_JOB = BatchJob.__table__
_RUN_COLUMNS = [c.name for c in _RUN.columns if c.name != "id"]


@dataclass
class Claimed:
    """A leased item: what the worker needs to run it."""

    id: int
    row_id: int
    row_idx: int
    version_id: int
    model: str
    repeat: int


@dataclass
class Finished:
    """A finished item, ready to be persisted."""

    item_id: int
    state: str  # done | error | incomplete | pending (put back, e.g. after a 401)
    run: dict[str, Any] | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    passed: bool | None = None
    score: float | None = None
    cost_usd: float | None = None


@dataclass
class Written:
    """What `persist` wrote: the spend it added and the items whose lease this worker no longer held."""

    spend: float = 0.0
    lost: list[int] = field(default_factory=list)


def _claim_where(job_id: int, now, expired: bool, dead: list[str] | None = None):
    if dead:  # a dead local process's items: running, whatever their lease says
        return and_(BatchItem.job_id == job_id, BatchItem.state == "running", BatchItem.lease_owner.in_(dead))
    if expired:  # a dead worker's items: running with a lease in the past
        return and_(BatchItem.job_id == job_id, BatchItem.state == "running", BatchItem.lease_expires < now)
    return and_(BatchItem.job_id == job_id, BatchItem.state == "pending")


def _claim_some(engine: Engine, job_id: int, owner: str, n: int, lease_s: float, expired: bool,
                dead: list[str] | None = None) -> list[Claimed]:
    now = utcnow()
    inner = select(BatchItem.id).where(_claim_where(job_id, now, expired, dead)).order_by(BatchItem.id).limit(n)
    if engine.dialect.name == "postgresql":
        inner = inner.with_for_update(skip_locked=True)
    stmt = (update(BatchItem).where(BatchItem.id.in_(inner.scalar_subquery()))
            .values(state="running", lease_owner=owner, lease_expires=now + timedelta(seconds=lease_s),
                    attempts=BatchItem.attempts + 1, updated_at=now)
            .returning(BatchItem.id, BatchItem.row_id, BatchItem.row_idx, BatchItem.version_id,
                       BatchItem.model, BatchItem.repeat))
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    return [Claimed(*r) for r in rows]


def dead_owners(engine: Engine, job_id: int) -> list[str]:
    """Owners of a job's running items that are processes on this host which no longer run."""
    with engine.connect() as conn:
        owners = conn.execute(select(BatchItem.lease_owner).where(
            BatchItem.job_id == job_id, BatchItem.state == "running").distinct()).scalars().all()
    return [o for o in owners if is_dead_local(o)]


def claim(engine: Engine, job_id: int, owner: str, n: int, lease_s: float) -> list[Claimed]:
    """Lease up to `n` claimable items of a job: pending ones first (index on job, state), then the items
    of a dead process on this host (at once), then running ones whose lease expired (their worker died)."""
    got = _claim_some(engine, job_id, owner, n, lease_s, expired=False)
    if len(got) < n:
        dead = dead_owners(engine, job_id)
        if dead:
            got += _claim_some(engine, job_id, owner, n - len(got), lease_s, expired=False, dead=dead)
    if len(got) < n:
        got += _claim_some(engine, job_id, owner, n - len(got), lease_s, expired=True)
    return sorted(got, key=lambda c: c.id)


def renew(engine: Engine, job_id: int, owner: str, lease_s: float) -> set[int]:
    """Extend the leases this worker holds on a job's items; returns the ids it still holds."""
    with engine.begin() as conn:
        res = conn.execute(update(BatchItem).where(BatchItem.job_id == job_id, BatchItem.state == "running",
                                                   BatchItem.lease_owner == owner)
                           .values(lease_expires=utcnow() + timedelta(seconds=lease_s)).returning(BatchItem.id))
        return set(res.scalars().all())


def release(engine: Engine, owner: str, item_ids: list[int]) -> int:
    """Give leased, never-started items back (pending, attempt not counted)."""
    if not item_ids:
        return 0
    with engine.begin() as conn:
        res = conn.execute(update(BatchItem).where(BatchItem.id.in_(item_ids), BatchItem.lease_owner == owner,
                                                   BatchItem.state == "running")
                           .values(state="pending", lease_owner=None, lease_expires=None,
                                   attempts=BatchItem.attempts - 1, updated_at=utcnow()))
    return int(res.rowcount or 0)


def _sqlite_time(value: Any) -> Any:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _converter(col) -> Any:
    """How SQLAlchemy would bind a value of this column on SQLite (JSON text, UTC text, 0/1)."""
    if isinstance(col.type, JSON):
        return lambda v: None if v is None else json.dumps(v)
    if isinstance(col.type, TypeDecorator) and isinstance(col.type.impl, DateTime) or isinstance(col.type, DateTime):
        return _sqlite_time
    if isinstance(col.type, Boolean):
        return lambda v: None if v is None else int(bool(v))
    return None


_RUN_CONV = [(c, _converter(_RUN.c[c])) for c in _RUN_COLUMNS]
_RUN_SQL = f"INSERT INTO run ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in _RUN_COLUMNS)})"


_DEFAULTS: dict[str, Any] = {}


def _run_defaults(now) -> dict[str, Any]:
    """Column defaults of a Run (what the ORM would fill in for a missing key)."""
    if not _DEFAULTS:
        _DEFAULTS.update({k: v for k, v in Run().model_dump().items() if k != "id"})
    return {**_DEFAULTS, "created_at": now}


def _held_sqlite(cur, owner: str, ids: list[int], stamp: str) -> set[int]:
    """Touch (and so write-lock) the items `owner` still holds; returns their ids."""
    held: set[int] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ", ".join("?" for _ in chunk)
        held |= {r[0] for r in cur.execute(
            f"UPDATE batchitem SET updated_at = ? WHERE id IN ({marks}) AND lease_owner = ? RETURNING id",
            (stamp, *chunk, owner)).fetchall()}
    return held


def _persist_sqlite(conn, job_id: int, owner: str, results: list[Finished], now) -> list[int]:
    """The same writes through the DBAPI's executemany: several times faster than compiled statements.

    Run ids: SQLite gives a rowid table max(id)+1 per insert, and the write lock is held for the
    whole transaction, so the n rows just inserted have the ids max-n+1..max.
    """
    cur = conn.connection.driver_connection.cursor()
    stamp = _sqlite_time(now)
    held = _held_sqlite(cur, owner, [r.item_id for r in results], stamp)
    lost = [r.item_id for r in results if r.item_id not in held]
    results = [r for r in results if r.item_id in held]
    if not results:
        cur.close()
        return lost
    with_run = [r for r in results if r.run is not None]
    by_item: dict[int, int] = {}
    if with_run:
        rows = []
        for r in with_run:
            run = {**_run_defaults(now), **r.run}
            rows.append(tuple(conv(run[c]) if conv else run[c] for c, conv in _RUN_CONV))
        cur.executemany(_RUN_SQL, rows)
        if cur.rowcount != len(rows):
            raise RuntimeError("run insert count mismatch")
        last = cur.execute("SELECT max(id) FROM run").fetchone()[0]
        by_item = {r.item_id: last - len(rows) + 1 + i for i, r in enumerate(with_run)}
    scores = [(by_item[r.item_id], s["evaluator"], None if s["passed"] is None else int(s["passed"]), s["score"],
               s["reason"], stamp) for r in with_run for s in r.scores]
    if scores:
        cur.executemany("INSERT INTO score (run_id, evaluator, passed, score, reason, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", scores)
    cur.executemany(
        "UPDATE batchitem SET state = ?, run_id = ?, error = ?, passed = ?, score = ?, cost_usd = ?, "
        "lease_owner = NULL, lease_expires = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?",
        [(r.state, by_item.get(r.item_id) if r.state != "pending" else None, r.error,
          None if r.passed is None else int(r.passed), r.score, r.cost_usd, stamp, r.item_id, owner)
         for r in results])
    cur.execute("UPDATE batchjob SET spent_usd = spent_usd + ?, updated_at = ? WHERE id = ?",
                (sum(r.cost_usd or 0.0 for r in results), stamp, job_id))
    cur.close()
    return lost


def _safe(v: Any) -> Any:
    return storable_text(v) if isinstance(v, str) else v


def _text_safe(results: list[Finished]) -> None:
    """Every string written made storable (`lib.runs.storable_text`: NUL removed, lone surrogates to U+FFFD) and
    short columns cut to size, or the write would fail on every retry; the Run rows come from the one row
    builder (`lib.runs.run_row`), which applies the same rule."""
    for r in results:
        r.error = _safe(r.error)
        if r.run is not None:
            make_storable(r.run)
        for sc in r.scores:
            sc["reason"] = _safe(sc.get("reason"))
            sc["evaluator"] = _safe(sc.get("evaluator"))


def persist(engine: Engine, job_id: int, owner: str, results: list[Finished]) -> Written:
    """Write runs, scores, item states and the job's spend in one transaction, for the items `owner`
    still holds; returns the spend added and the items it had lost (written by nobody here)."""
    if not results:
        return Written()
    _text_safe(results)
    now = utcnow()
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            lost = _persist_sqlite(conn, job_id, owner, results, now)
        gone = set(lost)
        return Written(sum(r.cost_usd or 0.0 for r in results if r.item_id not in gone), lost)
    with engine.begin() as conn:
        held = set(conn.execute(update(BatchItem).where(BatchItem.id.in_([r.item_id for r in results]),
                                                        BatchItem.lease_owner == owner)
                                .values(updated_at=now).returning(BatchItem.id)).scalars().all())
        lost = [r.item_id for r in results if r.item_id not in held]
        results = [r for r in results if r.item_id in held]
        if not results:
            return Written(0.0, lost)
        spend = sum(r.cost_usd or 0.0 for r in results)
        with_run = [r for r in results if r.run is not None]
        run_ids: list[int] = []
        if with_run:
            rows = [{**_run_defaults(now), **{c: r.run[c] for c in _RUN_COLUMNS if c in r.run}} for r in with_run]
            res = conn.execute(insert(Run).returning(Run.id, sort_by_parameter_order=True), rows)
            run_ids = [r[0] for r in res.all()]
        by_item = {r.item_id: rid for r, rid in zip(with_run, run_ids, strict=True)}
        scores = [dict(s, run_id=by_item[r.item_id], created_at=now)
                  for r in with_run for s in r.scores]
        if scores:
            conn.execute(insert(Score), scores)
        conn.execute(
            _ITEM.update().where(_ITEM.c.id == bindparam("b_id"), _ITEM.c.lease_owner == owner)
            .values(state=bindparam("b_state"), run_id=bindparam("b_run"), error=bindparam("b_error"),
                    passed=bindparam("b_passed"), score=bindparam("b_score"), cost_usd=bindparam("b_cost"),
                    lease_owner=None, lease_expires=None, updated_at=now),
            [{"b_id": r.item_id, "b_state": r.state, "b_run": by_item.get(r.item_id) if r.state != "pending" else None,
              "b_error": r.error, "b_passed": r.passed, "b_score": r.score, "b_cost": r.cost_usd}
             for r in results])
        conn.execute(update(BatchJob).where(BatchJob.id == job_id)
                     .values(spent_usd=BatchJob.spent_usd + spend, updated_at=now))
    return Written(spend, lost)


def job_state(engine: Engine, job_id: int) -> dict[str, Any]:
    """Status, budget and spend of a job (one small read)."""
    with engine.connect() as conn:
        row = conn.execute(select(BatchJob.status, BatchJob.budget_usd, BatchJob.spent_usd)
                           .where(BatchJob.id == job_id)).one_or_none()
    if row is None:
        return {"status": "missing", "budget_usd": None, "spent_usd": 0.0}
    return {"status": row[0], "budget_usd": row[1], "spent_usd": row[2] or 0.0}


def starter_problem(engine: Engine, job_id: int) -> str | None:
    """Why the job must not call on behalf of the person who started it any more (their role lost `run`);
    None when it may. Checked by the worker before a job's calls, since the worker itself is an editor."""
    with Session(engine) as s:
        label = s.execute(select(BatchJob.created_by).where(BatchJob.id == job_id)).scalar_one_or_none()
        problem = lost_permission(session=s, label=label, action=RUN)
    if problem is None:
        return None
    return f"started by {problem}; an admin can give the role back, then resume"


def set_job(engine: Engine, job_id: int, *, status: str, reason: str | None = None,
            only_if: tuple[str, ...] | None = None) -> bool:
    """Move a job to `status` (optionally only from the states in `only_if`); True if it changed."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, "pause_reason": reason}
    if status == "running":
        values.pop("pause_reason")
    if status in ("done", "cancelled", "failed"):
        values["finished_at"] = now
    stmt = update(BatchJob).where(BatchJob.id == job_id)
    if only_if:
        stmt = stmt.where(BatchJob.status.in_(only_if))
    with engine.begin() as conn:
        res = conn.execute(stmt.values(**values))
        if status == "running":
            conn.execute(update(BatchJob).where(BatchJob.id == job_id, BatchJob.started_at.is_(None))
                         .values(started_at=now))
    return bool(res.rowcount)


def open_counts(engine: Engine, job_id: int) -> tuple[int, int]:
    """(pending, running) items of a job."""
    from sqlalchemy import func

    with engine.connect() as conn:
        rows = dict(conn.execute(select(BatchItem.state, func.count()).where(
            BatchItem.job_id == job_id, BatchItem.state.in_(("pending", "running"))).group_by(BatchItem.state)).all())
    return int(rows.get("pending", 0)), int(rows.get("running", 0))


def load_rows(engine: Engine, row_ids: list[int]) -> dict[int, tuple[dict, list]]:
    """Row id -> (data, asserts) for the given dataset rows."""
    out: dict[int, tuple[dict, list]] = {}
    with engine.connect() as conn:
        for i in range(0, len(row_ids), 500):
            chunk = row_ids[i:i + 500]
            for rid, data, asserts in conn.execute(select(DatasetRow.id, DatasetRow.data, DatasetRow.asserts)
                                                   .where(DatasetRow.id.in_(chunk))):
                out[rid] = (data or {}, asserts or [])
    return out


def load_job(engine: Engine, job_id: int) -> tuple[BatchJob, dict[int, PromptVersion], dict[int, str]]:
    """The job row, its prompt versions (detached copies) and each version's prompt name."""
    from sqlmodel import Session

    with Session(engine, expire_on_commit=False) as s:
        job = s.get(BatchJob, job_id)
        if job is None:
            raise NotFoundError(f"unknown batch job {job_id}")
        versions = {v.id: v for v in s.execute(select(PromptVersion).where(
            PromptVersion.id.in_(job.version_ids))).scalars()}
        names = dict(s.execute(select(PromptVersion.id, Prompt.name).join(Prompt, Prompt.id == PromptVersion.prompt_id)
                               .where(PromptVersion.id.in_(job.version_ids))).all())
        s.expunge_all()
    return job, versions, names
