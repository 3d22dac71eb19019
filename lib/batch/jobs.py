"""Batch jobs: a BatchJob row and one BatchItem per (dataset row, version, model, repeat).

The job is the database: `submit()` writes every item in bulk, a worker (`lib.worker`)
claims items with leases and writes results by upsert, and the functions here read
progress and move the job between states:

    pending -> running -> done
       |          |-> paused (user, 401, budget) -> resume() -> pending
       '----------'-> cancelled                 retry_failed() -> pending

Item states: pending, running (leased), done, error, incomplete.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from lib import audit
from lib.client import load_config, price_for, provider_class, split_model_ref
from lib.datasets import auto_map
from lib.errors import NotFoundError, ValidationError
from lib.identity import BATCH_WRITE, RUN, Identity, require
from lib.models import BatchItem, BatchJob, Dataset, DatasetRow, PromptVersion, utcnow
from lib.prompts import variables as templating_variables

ITEM_STATES = ("pending", "running", "done", "error", "incomplete")
JOB_STATES = ("pending", "running", "paused", "done", "cancelled", "failed")
MODES = ("live", "provider")
ACTIVE = ("pending", "running")
_CHUNK = 5000


def _check_models(models: list[str]) -> list[str]:
    out = []
    for m in models or []:
        m = str(m).strip()
        if "/" not in m or m.startswith("/") or m.endswith("/"):
            raise ValidationError(f"model {m!r}: expected ENDPOINT/MODEL, e.g. echo/echo")
        if m not in out:
            out.append(m)
    if not out:
        raise ValidationError("choose at least one model (ENDPOINT/MODEL)")
    return out


def _positive(name: str, value: Any, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValidationError(f"{name} must be a positive number, got {value!r}")


def _require_prices(session: Session, models: list[str], budget_usd: float | None) -> None:
    """Refuse a money budget on models with no known price: their spend would be unknown, so the
    budget could never stop the job (before: an unpriced live job ignored its budget entirely)."""
    if budget_usd is None:
        return
    unpriced = []
    for ref in models:
        ep_name, model = split_model_ref(ref)
        price = price_for(load_config(session=session, name=ep_name), model, session.get_bind())
        if price is None or price.input_per_mtok is None or price.output_per_mtok is None:
            unpriced.append(ref)
    if unpriced:
        raise ValidationError(f"a budget of ${budget_usd} cannot be kept: no price is known for "
                              f"{', '.join(unpriced)}; set a price override in Settings or run without a budget")


def submit(*, session: Session, actor: Identity, dataset_id: int, version_ids: list[int], models: list[str],
           mapping: dict[str, str] | None = None, evaluators: list | None = None, params: dict | None = None,
           repeats: int = 1, concurrency: int = 8, rpm: int | None = None, tpm: int | None = None,
           budget_usd: float | None = None, mode: str = "live", name: str = "",
           judge_model: str | None = None) -> BatchJob:
    """Create a job (started by `actor`) and all its items (rows x versions x models x repeats) in bulk."""
    require(actor, RUN)
    require(actor, BATCH_WRITE)
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError(f"unknown dataset id {dataset_id}")
    version_ids = list(dict.fromkeys(int(v) for v in version_ids or []))
    if not version_ids:
        raise ValidationError("choose at least one prompt version")
    found = set(session.execute(select(PromptVersion.id).where(PromptVersion.id.in_(version_ids))).scalars())
    lacking = [v for v in version_ids if v not in found]
    if lacking:
        raise NotFoundError(f"unknown prompt version id(s): {', '.join(map(str, lacking))}")
    models = _check_models(models)
    if judge_model:
        judge_model = _check_models([judge_model])[0]
    mapping = complete_mapping(session=session, dataset=dataset, version_ids=version_ids, mapping=mapping)
    _check_run(session, models=models, mode=mode, repeats=repeats, concurrency=concurrency, rpm=rpm, tpm=tpm,
               budget_usd=budget_usd)
    rows = session.execute(select(DatasetRow.id, DatasetRow.idx).where(DatasetRow.dataset_id == dataset_id)
                        .order_by(DatasetRow.idx)).all()
    if not rows:
        raise ValidationError(f"dataset {dataset.name!r} has no rows")
    now = utcnow()
    job = BatchJob(name=name or dataset.name, dataset_id=dataset_id, version_ids=version_ids, models=models,
                   mapping=dict(mapping or {}), evaluators=list(evaluators or []), params=dict(params or {}),
                   judge_model=judge_model or None,
                   repeats=repeats, concurrency=concurrency, rpm=rpm, tpm=tpm, budget_usd=budget_usd, mode=mode,
                   status="pending", total_items=len(rows) * len(version_ids) * len(models) * repeats,
                   created_by=actor.label[:200], created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    audit.record(session, actor=actor, action="job.start", object_type="job", object_id=job.id,
                 summary=f"- -> {job.name}: {job.total_items} items ({dataset.name}, {', '.join(models)}, "
                         f"{mode}, budget {'none' if budget_usd is None else f'${budget_usd}'})")
    _insert_items(session, job, rows)
    session.flush()
    return job


def _check_run(session: Session, *, models: list[str], mode: str, repeats: Any, concurrency: Any, rpm: Any,
               tpm: Any, budget_usd: Any) -> None:
    """Refuse a mode, repeat count, limit or budget the job could not keep, naming the field."""
    if mode not in MODES:
        raise ValidationError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "provider":
        for m in models:
            cfg = load_config(session=session, name=split_model_ref(m)[0])
            if not provider_class(cfg.kind).has_batch_api:
                raise ValidationError(f"model {m!r}: endpoint {cfg.name!r} ({cfg.kind}) has no Batch API "
                                      "(OpenAI-compatible or Anthropic Message Batches); run the job live instead")
    if not isinstance(repeats, int) or repeats < 1 or repeats > 100:
        raise ValidationError(f"repeats must be 1..100, got {repeats!r}")
    if not isinstance(concurrency, int) or concurrency < 1 or concurrency > 1024:
        raise ValidationError(f"concurrency must be 1..1024, got {concurrency!r}")
    _positive("rpm", rpm)
    _positive("tpm", tpm)
    _positive("budget", budget_usd)
    _require_prices(session, models, budget_usd)


def _insert_items(session: Session, job: BatchJob, rows: Any) -> None:
    """Every item of the job in bulk, row-major so the first results cover every version x model of the
    first cases."""
    batch: list[dict] = []
    for row_id, idx in rows:
        for rep in range(job.repeats):
            for vid in job.version_ids:
                for model in job.models:
                    batch.append({"job_id": job.id, "row_id": row_id, "row_idx": idx, "version_id": vid,
                                  "model": model, "repeat": rep, "state": "pending", "attempts": 0,
                                  "updated_at": job.created_at})
                    if len(batch) >= _CHUNK:
                        session.execute(insert(BatchItem), batch)
                        batch = []
    if batch:
        session.execute(insert(BatchItem), batch)


def complete_mapping(*, session: Session, dataset: Dataset, version_ids: list[int],
                     mapping: dict[str, str | None] | None) -> dict[str, str | None]:
    """The mapping with every template variable of the versions: given entries kept, others matched by name."""
    variables: list[str] = []
    for v in session.execute(select(PromptVersion).where(PromptVersion.id.in_(version_ids))).scalars():
        for name in templating_variables(v):
            if name not in variables:
                variables.append(name)
    given = {k: v for k, v in (mapping or {}).items() if v}
    for col in given.values():
        if col not in (dataset.columns or []):
            raise ValidationError(f"mapping: dataset {dataset.name!r} has no column {col!r} "
                                  f"(columns: {', '.join(dataset.columns or [])})")
    auto = auto_map(list(dataset.columns or []), [v for v in variables if v not in given])
    return {**auto, **given}


def get_job(*, session: Session, job_id: int) -> BatchJob:
    """The job with this id (NotFoundError otherwise)."""
    job = session.get(BatchJob, int(job_id))
    if job is None:
        raise NotFoundError(f"unknown batch job {job_id}")
    return job


def list_jobs(*, session: Session, limit: int = 100) -> list[BatchJob]:
    """Newest jobs first."""
    return list(session.execute(select(BatchJob).order_by(BatchJob.id.desc()).limit(limit)).scalars())


def counts(*, session: Session, job_id: int) -> dict[str, int]:
    """Items per state (every state present, zero when none)."""
    out = {s: 0 for s in ITEM_STATES}
    for state, n in session.execute(select(BatchItem.state, func.count()).where(BatchItem.job_id == job_id)
                                    .group_by(BatchItem.state)):
        out[state] = int(n)
    return out


def progress(*, session: Session, job_id: int, window_s: float = 30.0) -> dict[str, Any]:
    """Counts by state, spend, budget, pass rate, recent rate (items/s) and ETA in seconds."""
    job = get_job(session=session, job_id=job_id)
    c = counts(session=session, job_id=job_id)
    total = job.total_items or sum(c.values())
    finished = c["done"] + c["error"] + c["incomplete"]
    since = utcnow() - timedelta(seconds=window_s)
    recent = session.execute(select(func.count(), func.min(BatchItem.updated_at)).where(
        BatchItem.job_id == job_id, BatchItem.state.in_(("done", "error", "incomplete")),
        BatchItem.updated_at >= since)).one()
    rate = 0.0
    if recent[0] and recent[1] is not None:
        first = recent[1] if recent[1].tzinfo else recent[1].replace(tzinfo=since.tzinfo)
        span = max((utcnow() - first).total_seconds(), 1.0)
        rate = recent[0] / span
    active = job.status in ("pending", "running")
    if not active and finished and job.started_at is not None and job.finished_at is not None:
        # a finished job's rate is over its active time: the wall clock running on must not decay it to 0
        start, end = (t if t.tzinfo else t.replace(tzinfo=since.tzinfo) for t in (job.started_at, job.finished_at))
        rate = finished / max((end - start).total_seconds(), 1.0)
    remaining = total - finished
    eta = remaining / rate if rate > 0 and remaining > 0 and job.status == "running" else None
    errors = c["error"] + c["incomplete"]
    # a job with failed items says so: "done" alone would read as all good
    status_label = f"{job.status} with {errors:,} error{'s' if errors != 1 else ''}" if errors else job.status
    # finished calls with no known price: the spend is then a lower bound, and the page says so
    unpriced = session.execute(select(func.count()).where(
        BatchItem.job_id == job_id, BatchItem.state.in_(("done", "error", "incomplete")),
        BatchItem.run_id.is_not(None), BatchItem.cost_usd.is_(None))).scalar_one()
    scored, passed = session.execute(select(func.count(BatchItem.passed), func.count().filter(
        BatchItem.passed.is_(True))).where(BatchItem.job_id == job_id)).one()
    return {"job_id": job.id, "name": job.name, "status": job.status, "status_label": status_label,
            "pause_reason": job.pause_reason,
            "mode": job.mode, "total": total, "counts": c, "finished": finished, "remaining": remaining,
            "errors": errors, "spent_usd": round(job.spent_usd or 0.0, 6), "unpriced_calls": int(unpriced or 0),
            "budget_usd": job.budget_usd, "rate_per_s": round(rate, 2),
            "eta_s": round(eta, 1) if eta is not None else None,
            "scored": int(scored or 0), "passed": int(passed or 0),
            "pass_rate": (passed / scored) if scored else None,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at}


def _set_status(session: Session, job: BatchJob, status: str, reason: str | None = None, *,
                actor: Identity, action: str) -> BatchJob:
    audit.record(session, actor=actor, action=action, object_type="job", object_id=job.id,
                 summary=audit.change(job.status, status))
    job.status = status
    job.pause_reason = reason
    job.updated_at = utcnow()
    if status in ("done", "cancelled", "failed"):
        job.finished_at = job.updated_at
    session.add(job)
    session.flush()
    return job


def pause(*, session: Session, actor: Identity, job_id: int, reason: str = "paused by user") -> BatchJob:
    """Stop claiming new items; items in flight finish and are kept."""
    require(actor, BATCH_WRITE)
    job = get_job(session=session, job_id=job_id)
    if job.status in ("done", "cancelled"):
        raise ValidationError(f"job {job.id} is {job.status}; nothing to pause")
    return _set_status(session, job, "paused", reason, actor=actor, action="job.pause")


def resume(*, session: Session, actor: Identity, job_id: int, budget_usd: float | None = None) -> BatchJob:
    """Make a paused/failed/cancelled job runnable again (optionally with a new budget)."""
    require(actor, RUN)
    require(actor, BATCH_WRITE)
    job = get_job(session=session, job_id=job_id)
    if budget_usd is not None:
        _positive("budget", budget_usd)
        _require_prices(session, list(job.models or []), budget_usd)
        job.budget_usd = budget_usd
    if job.budget_usd is not None and (job.spent_usd or 0) >= job.budget_usd:
        raise ValidationError(f"job {job.id} has spent ${job.spent_usd:.4f} of its ${job.budget_usd:.4f} "
                              "budget; resume with a higher budget")
    if job.status == "done":
        c = counts(session=session, job_id=job.id)
        if c["pending"] == 0 and c["running"] == 0:
            return job  # nothing left to do: resuming sends nothing
    return _set_status(session, job, "pending", actor=actor, action="job.resume")


def cancel(*, session: Session, actor: Identity, job_id: int) -> BatchJob:
    """Cancel: no new item is claimed; finished results stay."""
    require(actor, BATCH_WRITE)
    job = get_job(session=session, job_id=job_id)
    if job.status == "done":
        raise ValidationError(f"job {job.id} is already done")
    return _set_status(session, job, "cancelled", "cancelled by user", actor=actor, action="job.cancel")


def retry_failed(*, session: Session, actor: Identity, job_id: int) -> int:
    """Put error and incomplete items back to pending (finished ones are never repeated); returns how many."""
    require(actor, RUN)
    require(actor, BATCH_WRITE)
    job = get_job(session=session, job_id=job_id)
    res = session.execute(update(BatchItem).where(BatchItem.job_id == job.id,
                                                  BatchItem.state.in_(("error", "incomplete")))
                          .values(state="pending", error=None, lease_owner=None, lease_expires=None,
                                  updated_at=utcnow()))
    n = int(res.rowcount or 0)
    if n:
        audit.record(session, actor=actor, action="job.retry", object_type="job", object_id=job.id,
                     summary=f"{n} failed item{'s' if n != 1 else ''} -> pending")
    if n and job.status != "running":
        job.status, job.pause_reason, job.finished_at = "pending", None, None
        job.updated_at = utcnow()
        session.add(job)
    session.flush()
    return n


def runnable_jobs(*, session: Session, mode: str | None = "live") -> list[int]:
    """Ids of jobs a worker should work on (pending or running), oldest first."""
    q = select(BatchJob.id).where(BatchJob.status.in_(ACTIVE))
    if mode:
        q = q.where(BatchJob.mode == mode)
    return list(session.execute(q.order_by(BatchJob.id)).scalars())
