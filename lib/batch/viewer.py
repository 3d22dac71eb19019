"""The results viewer of a batch job: a grid of cases x (version x model), one cell's details, human grades.

- `grid()`: one row per case (dataset row, repeat), one cell per version x model holding the item's
  state, verdict, score, a short answer, tokens, cost and latency; `failures_only` keeps the cases
  with at least one failing (or errored) cell; `evaluator` judges cells by that evaluator alone.
- `cell()`: everything about one item: the answer, each evaluator's verdict and reason, tokens,
  cost, latency, the human grade if any.
- `grade()`: a manual override stored as a `Score` named `human` on the item's run; it decides the
  item's `passed` (and score 1/0), so pass rates, the gate and the A/B verdicts count it.
  `clear_grade()` removes it and restores the evaluators' verdict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlmodel import Session

from lib.errors import NotFoundError, ValidationError
from lib.evals import EvalResult, summarise
from lib.identity import BATCH_WRITE, Identity, require
from lib.models import BatchItem, BatchJob, DatasetRow, Run, Score, utcnow

from .reports import PAGE_MAX, column_label, scores_of, version_labels

HUMAN = "human"
SHORT = 160


def evaluators_of(*, session: Session, job_id: int) -> list[str]:
    """The evaluator names that scored some item of the job (the human grade included), sorted."""
    q = (select(Score.evaluator).join(BatchItem, BatchItem.run_id == Score.run_id)
         .where(BatchItem.job_id == job_id).distinct())
    return sorted(session.execute(q).scalars())


def _failing(job_id: int, evaluator: str | None):
    """A condition on BatchItem: the item failed (by `evaluator` alone when given) or did not run."""
    broken = BatchItem.state.in_(("error", "incomplete"))
    if evaluator:
        failed = exists().where(Score.run_id == BatchItem.run_id, Score.evaluator == evaluator,
                                Score.passed.is_(False))
    else:
        failed = BatchItem.passed.is_(False)
    return and_(BatchItem.job_id == job_id, or_(broken, failed))


def grid(*, session: Session, job_id: int, page: int = 1, page_size: int = 25, failures_only: bool = False,
         evaluator: str | None = None) -> tuple[list[dict[str, Any]], list[str], int]:
    """(rows, column names, total cases): each row has row, repeat, inputs and one cell dict per column."""
    job = session.get(BatchJob, int(job_id))
    if job is None:
        raise NotFoundError(f"unknown batch job {job_id}")
    labels = version_labels(session=session, version_ids=list(job.version_ids))
    columns = [column_label(labels.get(v, str(v)), m) for v in job.version_ids for m in job.models]
    keys_q = select(BatchItem.row_idx, BatchItem.repeat).where(BatchItem.job_id == job.id)
    if failures_only:
        keys_q = keys_q.where(_failing(job.id, evaluator))
    keys_q = keys_q.distinct()
    total = int(session.execute(select(func.count()).select_from(keys_q.subquery())).scalar() or 0)
    size = max(1, min(int(page_size), PAGE_MAX))
    keys = session.execute(keys_q.order_by(BatchItem.row_idx, BatchItem.repeat)
                           .offset((max(1, int(page)) - 1) * size).limit(size)).all()
    if not keys:
        return [], columns, total
    wanted = {(k[0], k[1]) for k in keys}
    lo, hi = min(k[0] for k in keys), max(k[0] for k in keys)
    items = session.execute(
        select(BatchItem.id, BatchItem.row_idx, BatchItem.repeat, BatchItem.version_id, BatchItem.model,
               BatchItem.state, BatchItem.passed, BatchItem.score, BatchItem.error, BatchItem.cost_usd,
               BatchItem.run_id, Run.output, Run.prompt_tokens, Run.completion_tokens, Run.usage_estimated,
               Run.latency_ms, DatasetRow.data)
        .outerjoin(Run, Run.id == BatchItem.run_id).join(DatasetRow, DatasetRow.id == BatchItem.row_id)
        .where(BatchItem.job_id == job.id, BatchItem.row_idx >= lo, BatchItem.row_idx <= hi)).all()
    items = [i for i in items if (i.row_idx, i.repeat) in wanted]
    by_eval: dict[int, dict] = {}
    if evaluator:
        run_ids = [i.run_id for i in items if i.run_id]
        for rid, scores in scores_of(session=session, run_ids=run_ids).items():
            by_eval[rid] = next((s for s in scores if s["evaluator"] == evaluator), None) or {}
    rows: dict[tuple, dict[str, Any]] = {(k[0], k[1]): {"row": k[0], "repeat": k[1], "cells": {}} for k in keys}
    for i in items:
        r = rows[(i.row_idx, i.repeat)]
        r.setdefault("inputs", dict(i.data or {}))
        passed, score = i.passed, i.score
        if evaluator:
            s = by_eval.get(i.run_id) or {}
            passed, score = s.get("passed"), s.get("score")
        text = i.output if i.output not in (None, "") else (i.error or "")
        r["cells"][column_label(labels.get(i.version_id, str(i.version_id)), i.model)] = {
            "item_id": i.id, "state": i.state, "passed": passed, "score": score,
            "outcome": outcome(i.state, passed), "short": text if len(text) <= SHORT else text[:SHORT] + "…",
            "prompt_tokens": i.prompt_tokens, "completion_tokens": i.completion_tokens,
            "usage_estimated": bool(i.usage_estimated), "cost_usd": i.cost_usd, "latency_ms": i.latency_ms}
    return list(rows.values()), columns, total


def outcome(state: str, passed: bool | None) -> str:
    """A cell's colour class: pass, fail, error (did not run), unscored, or pending."""
    if state in ("error", "incomplete"):
        return "error"
    if state != "done":
        return "pending"
    return "unscored" if passed is None else "pass" if passed else "fail"


def cell(*, session: Session, item_id: int) -> dict[str, Any]:
    """One item: inputs, messages sent, answer, each evaluator's verdict and reason, tokens, cost, latency, grade."""
    it = session.get(BatchItem, int(item_id))
    if it is None:
        raise NotFoundError(f"unknown batch item {item_id}")
    run = session.get(Run, it.run_id) if it.run_id else None
    row = session.get(DatasetRow, it.row_id)
    label = version_labels(session=session, version_ids=[it.version_id]).get(it.version_id, str(it.version_id))
    scores = scores_of(session=session, run_ids=[it.run_id]).get(it.run_id, []) if it.run_id else []
    human = next((s for s in scores if s["evaluator"] == HUMAN), None)
    return {"item_id": it.id, "job_id": it.job_id, "row": it.row_idx, "repeat": it.repeat, "version": label,
            "model": it.model, "state": it.state, "passed": it.passed, "score": it.score, "error": it.error,
            "outcome": outcome(it.state, it.passed), "inputs": dict(row.data or {}) if row else {},
            "messages": list(run.messages or []) if run else [],
            "output": run.output if run else None, "finish_reason": run.finish_reason if run else None,
            "tool_calls": run.tool_calls if run else None,
            "prompt_tokens": run.prompt_tokens if run else None,
            "completion_tokens": run.completion_tokens if run else None,
            "usage_estimated": bool(run.usage_estimated) if run else False, "cost_usd": it.cost_usd,
            "latency_ms": run.latency_ms if run else None, "run_id": it.run_id,
            "evaluators": [s for s in scores if s["evaluator"] != HUMAN], "human": human}


def _recompute(session: Session, it: BatchItem) -> None:
    """The item's verdict from its scores: a human grade decides; else all evaluators as at run time."""
    rows = session.execute(select(Score.evaluator, Score.passed, Score.score).where(Score.run_id == it.run_id)).all()
    human = next((r for r in rows if r[0] == HUMAN), None)
    if human is not None:
        it.passed, it.score = human[1], 1.0 if human[1] else 0.0
    else:
        it.passed, it.score = summarise([EvalResult(p, sc, "") for _e, p, sc in rows])
    it.updated_at = utcnow()
    session.add(it)


def grade(*, session: Session, actor: Identity, item_id: int, passed: bool, reason: str = "",
          who: str = "") -> dict[str, Any]:
    """Store a human grade (pass or fail) on the item's run (editors; `who` defaults to the actor's name);
    it overrides the evaluators in every verdict."""
    require(actor, BATCH_WRITE)
    who = who or actor.label
    it = session.get(BatchItem, int(item_id))
    if it is None:
        raise NotFoundError(f"unknown batch item {item_id}")
    if it.run_id is None or it.state != "done":
        raise ValidationError(f"item {item_id} is {it.state}: only an answered item can be graded")
    text = (reason or "").strip()[:1000]
    note = f"{who}: {text}" if who and text else (text or (f"graded by {who}" if who else "graded by hand"))
    existing = session.execute(select(Score).where(Score.run_id == it.run_id, Score.evaluator == HUMAN)).scalar()
    if existing is None:
        existing = Score(run_id=it.run_id, evaluator=HUMAN)
    existing.passed, existing.score, existing.reason = bool(passed), 1.0 if passed else 0.0, note
    existing.created_at = utcnow()
    session.add(existing)
    session.flush()
    _recompute(session, it)
    session.flush()
    return cell(session=session, item_id=it.id)


def clear_grade(*, session: Session, actor: Identity, item_id: int) -> dict[str, Any]:
    """Remove the human grade (editors); the evaluators' verdict counts again."""
    require(actor, BATCH_WRITE)
    it = session.get(BatchItem, int(item_id))
    if it is None:
        raise NotFoundError(f"unknown batch item {item_id}")
    if it.run_id is not None:
        session.execute(delete(Score).where(Score.run_id == it.run_id, Score.evaluator == HUMAN))
        _recompute(session, it)
        session.flush()
    return cell(session=session, item_id=it.id)
