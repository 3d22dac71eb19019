"""Reading a job's results: a paginated, filtered table; a matrix (one row per case, one column per
version x model); pass rate per version x model; and flat records for export.

Every function is a SQL query over BatchItem (+ Run, DatasetRow, PromptVersion, Prompt), so the
numbers are the same whether the job ran live or through a provider's batch API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from lib.datasets import write
from lib.models import BatchItem, BatchJob, DatasetRow, Prompt, PromptVersion, Run, Score
from lib.prompts import version_ref

PAGE_MAX = 1000


def version_labels(*, session: Session, version_ids: list[int]) -> dict[int, str]:
    """Version id -> 'prompt:N' (a valid reference)."""
    rows = session.execute(select(PromptVersion.id, Prompt.name, PromptVersion.number)
                           .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                           .where(PromptVersion.id.in_(version_ids))).all()
    return {vid: version_ref(name, num) for vid, name, num in rows}


def column_label(version: str, model: str) -> str:
    """The matrix column name of a version x model."""
    return f"{version} · {model}"


def _filtered(q, job_id: int, state: str | None, passed: bool | None, version_id: int | None,
              model: str | None):
    q = q.where(BatchItem.job_id == job_id)
    if state:
        q = q.where(BatchItem.state == state)
    if passed is not None:
        q = q.where(BatchItem.passed.is_(passed))
    if version_id is not None:
        q = q.where(BatchItem.version_id == version_id)
    if model:
        q = q.where(BatchItem.model == model)
    return q


_COLS = (BatchItem.id, BatchItem.row_idx, BatchItem.repeat, BatchItem.version_id, BatchItem.model, BatchItem.state,
         BatchItem.passed, BatchItem.score, BatchItem.error, BatchItem.cost_usd, BatchItem.attempts, Run.id,
         Run.output, Run.finish_reason, Run.prompt_tokens, Run.completion_tokens, Run.latency_ms,
         Run.usage_estimated, DatasetRow.data, Run.tool_calls)
_NAMES = ("item_id", "row", "repeat", "version_id", "model", "state", "passed", "score", "error", "cost_usd",
          "attempts", "run_id", "output", "finish_reason", "prompt_tokens", "completion_tokens", "latency_ms",
          "usage_estimated", "inputs", "tool_calls")


def results(*, session: Session, job_id: int, page: int = 1, page_size: int = 50, state: str | None = None,
            passed: bool | None = None, version_id: int | None = None, model: str | None = None
            ) -> tuple[list[dict[str, Any]], int]:
    """One page of items (with output, metrics and the row's inputs) and the filtered total."""
    page_size = max(1, min(int(page_size), PAGE_MAX))
    page = max(1, int(page))
    total = session.execute(_filtered(select(func.count()).select_from(BatchItem), job_id, state, passed,
                                      version_id, model)).scalar() or 0
    q = (select(*_COLS).outerjoin(Run, Run.id == BatchItem.run_id)
         .join(DatasetRow, DatasetRow.id == BatchItem.row_id))
    q = _filtered(q, job_id, state, passed, version_id, model).order_by(BatchItem.id)
    rows = session.execute(q.offset((page - 1) * page_size).limit(page_size)).all()
    out = [dict(zip(_NAMES, r, strict=True)) for r in rows]
    labels = version_labels(session=session, version_ids=list({r["version_id"] for r in out}))
    for r in out:
        r["version"] = labels.get(r["version_id"], str(r["version_id"]))
    return out, int(total)


def scores_of(*, session: Session, run_ids: list[int]) -> dict[int, list[dict]]:
    """Run id -> its scores (evaluator, passed, score, reason)."""
    out: dict[int, list[dict]] = {}
    for i in range(0, len(run_ids), 500):
        for rid, ev, ok, sc, why in session.execute(select(Score.run_id, Score.evaluator, Score.passed, Score.score,
                                                           Score.reason).where(Score.run_id.in_(run_ids[i:i + 500]))
                                                    .order_by(Score.id)):
            out.setdefault(rid, []).append({"evaluator": ev, "passed": ok, "score": sc, "reason": why})
    return out


def matrix(*, session: Session, job_id: int, page: int = 1, page_size: int = 50, value: str = "output"
           ) -> tuple[list[dict[str, Any]], list[str], int]:
    """Rows = cases (row, repeat), columns = version x model; cells hold `value` (output/passed/score/state).

    Returns (rows, column names, total cases).
    """
    job = session.get(BatchJob, job_id)
    if job is None:
        return [], [], 0
    labels = version_labels(session=session, version_ids=list(job.version_ids))
    columns = [column_label(labels.get(v, str(v)), m) for v in job.version_ids for m in job.models]
    cases = session.execute(select(func.count()).select_from(
        select(BatchItem.row_idx, BatchItem.repeat).where(BatchItem.job_id == job_id).distinct().subquery())).scalar()
    page_size = max(1, min(int(page_size), PAGE_MAX))
    keys = session.execute(select(BatchItem.row_idx, BatchItem.repeat).where(BatchItem.job_id == job_id).distinct()
                           .order_by(BatchItem.row_idx, BatchItem.repeat)
                           .offset((max(1, page) - 1) * page_size).limit(page_size)).all()
    if not keys:
        return [], columns, int(cases or 0)
    lo, hi = keys[0][0], keys[-1][0]
    cell = {"output": Run.output, "passed": BatchItem.passed, "score": BatchItem.score,
            "state": BatchItem.state}.get(value, Run.output)
    items = session.execute(select(BatchItem.row_idx, BatchItem.repeat, BatchItem.version_id, BatchItem.model,
                                   BatchItem.state, cell, DatasetRow.data)
                            .outerjoin(Run, Run.id == BatchItem.run_id)
                            .join(DatasetRow, DatasetRow.id == BatchItem.row_id)
                            .where(BatchItem.job_id == job_id, BatchItem.row_idx >= lo, BatchItem.row_idx <= hi)).all()
    wanted = {tuple(k) for k in keys}
    rows: dict[tuple, dict[str, Any]] = {tuple(k): {"row": k[0], "repeat": k[1]} for k in keys}
    for idx, rep, vid, model, state, val, data in items:
        if (idx, rep) not in wanted:
            continue
        r = rows[(idx, rep)]
        if "inputs" not in r:
            r["inputs"] = data
        if value == "output" and state != "done":
            val = f"[{state}]" if val in (None, "") else val
        r[column_label(labels.get(vid, str(vid)), model)] = val
    return list(rows.values()), columns, int(cases or 0)


def pass_rates(*, session: Session, job_id: int) -> list[dict[str, Any]]:
    """Per version x model: items, done, errors, scored, passed, pass rate, mean score, cost, mean latency."""
    q = (select(BatchItem.version_id, BatchItem.model, func.count(),
                func.sum(case((BatchItem.state == "done", 1), else_=0)),
                func.sum(case((BatchItem.state.in_(("error", "incomplete")), 1), else_=0)),
                func.count(BatchItem.passed), func.sum(case((BatchItem.passed.is_(True), 1), else_=0)),
                func.avg(BatchItem.score), func.sum(BatchItem.cost_usd), func.avg(Run.latency_ms))
         .outerjoin(Run, Run.id == BatchItem.run_id)
         .where(BatchItem.job_id == job_id).group_by(BatchItem.version_id, BatchItem.model))
    rows = session.execute(q).all()
    labels = version_labels(session=session, version_ids=list({r[0] for r in rows}))
    out = []
    for vid, model, n, done, errors, scored, passed, mean_score, cost, lat in rows:
        out.append({"version_id": vid, "version": labels.get(vid, str(vid)), "model": model, "items": int(n),
                    "done": int(done or 0), "errors": int(errors or 0), "scored": int(scored or 0),
                    "passed": int(passed or 0), "pass_rate": (int(passed or 0) / scored) if scored else None,
                    "mean_score": float(mean_score) if mean_score is not None else None,
                    "cost_usd": float(cost) if cost is not None else None,
                    "mean_latency_ms": float(lat) if lat is not None else None})
    return sorted(out, key=lambda r: (r["version"], r["model"]))


def records(*, session: Session, job_id: int, chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """Flat rows for export: one per item, inputs as `input.<column>`, each evaluator as `eval.<name>`."""
    page = 1
    while True:
        rows, _total = results(session=session, job_id=job_id, page=page, page_size=chunk)
        if not rows:
            return
        scores = scores_of(session=session, run_ids=[r["run_id"] for r in rows if r["run_id"]])
        for r in rows:
            flat = {k: r[k] for k in ("row", "repeat", "version", "model", "state", "output", "passed", "score",
                                      "error", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms",
                                      "finish_reason", "attempts", "run_id", "item_id")}
            # tool calls as JSON text, so a tool-call answer is never an empty row in an export
            flat["tool_calls"] = json.dumps(r["tool_calls"], ensure_ascii=False) if r.get("tool_calls") else ""
            for col, val in (r["inputs"] or {}).items():
                flat[f"input.{col}"] = val
            for s in scores.get(r["run_id"], []):
                flat[f"eval.{s['evaluator']}"] = s["passed"]
            yield flat
        if len(rows) < chunk:
            return
        page += 1


def export_job(*, session: Session, job_id: int, dest: Any, fmt: str) -> int:
    """Write the job's results as csv, jsonl or parquet (formulas neutralised by lib.export); returns rows."""
    data = list(records(session=session, job_id=job_id))
    write(data, dest, fmt)
    return len(data)
