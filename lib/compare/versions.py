"""Version comparison of a batch job on one stated scale: the figures the Batch, Quality and Compare screens show.

`compare_versions()` takes one job (every version x model of it on the job's own items) or two jobs
on the same dataset (restricted to the dataset rows both ran, and says so).  The scale is chosen
once for the job(s) from the evaluators that scored them: when every one is pass/fail, the figure is
the pass rate (in %, a difference in percentage points); when any gives a graded score, the figure
is the mean score on the evaluators' own 0..1 scale.  Each evaluator is also reported on its own
scale.  `VersionComparison.pair()` pairs two sides case by case and states the verdict on that
same scale, so the numbers agree wherever they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.db import engine_of
from lib.errors import NotFoundError, ValidationError
from lib.evals import SCORE_SCALE, scale_of
from lib.models import BatchItem, BatchJob, Dataset, Prompt, PromptVersion, Run, Score
from lib.prompts import version_ref

from .verdicts import Side, Verdict, pair_cases, verdict

SIDE_COLUMNS = ["side", "job_id", "version_id", "version", "model", "items", "done", "errors", "judged", "passed",
                "pass_rate", "scored", "mean_score", "cost_usd", "mean_latency_ms"]
EVAL_COLUMNS = ["side", "evaluator", "scale", "n", "value"]


@dataclass
class VersionComparison:
    """Per-side figures of one job (or the shared rows of two) on one scale, and the pairing of two sides."""

    job_ids: tuple[int, ...]
    dataset_id: int
    note: str  # what is compared: "Batch job #5, every case." / "Jobs #5 and #7: the 29 rows both ran."
    metric: str | None  # "pass_rate" | "score" | None (nothing was scored)
    sides: pd.DataFrame  # SIDE_COLUMNS, one row per (job, version, model)
    evaluators: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EVAL_COLUMNS))
    shared_rows: int | None = None  # rows both jobs ran (two jobs only)

    @property
    def scale(self) -> str:
        """The stated scale, in words."""
        if self.metric == "pass_rate":
            return "pass rate (% of judged cases that passed every evaluator; every evaluator here is pass/fail)"
        if self.metric == "score":
            lo, hi = SCORE_SCALE
            return f"mean score on the evaluators' {lo:g}-{hi:g} scale (a graded evaluator scored these cases)"
        return "no evaluator scored these cases"

    def side(self, label: str) -> Side:
        """The Side of a row of `sides` by its label."""
        r = self.sides[self.sides["side"] == label]
        if r.empty:
            raise NotFoundError(f"no side {label!r} in this comparison")
        row = r.iloc[0]
        return Side(int(row["version_id"]), str(row["model"]), int(row["job_id"]))

    def figure(self, label: str) -> float | None:
        """A side's headline figure on the stated scale (pass rate as a fraction, or mean score)."""
        r = self.sides[self.sides["side"] == label]
        if r.empty or self.metric is None:
            return None
        v = r.iloc[0]["pass_rate" if self.metric == "pass_rate" else "mean_score"]
        return None if pd.isna(v) else float(v)

    def pair(self, engine: Engine | Session | None, a: str, b: str, seed: int = 0) -> tuple[pd.DataFrame, Verdict]:
        """Cases both sides answered (in their jobs) and the verdict of B against A, on the stated scale."""
        if a == b:
            raise ValidationError("pick two different sides")
        sa, sb = self.side(a), self.side(b)
        metric = self.metric or "score"
        cases = pair_cases(engine, self.dataset_id, sa, sb, metric=metric)
        return cases, verdict(cases, a, b, seed=seed, metric=metric)


def comparable_jobs(engine: Engine | Session | None, limit: int = 200) -> pd.DataFrame:
    """Batch jobs with finished items, newest first: id, label (date, versions, models, evaluators), dataset."""
    engine = engine_of(engine)
    done = select(BatchItem.job_id).where(BatchItem.state == "done").distinct()
    stmt = (select(BatchJob.id, BatchJob.name, BatchJob.created_at, BatchJob.version_ids, BatchJob.models,
                   BatchJob.evaluators, BatchJob.dataset_id, Dataset.name, Dataset.revision)
            .join(Dataset, Dataset.id == BatchJob.dataset_id).where(BatchJob.id.in_(done))
            .order_by(BatchJob.id.desc()).limit(limit))
    with Session(engine) as s:
        rows = s.execute(stmt).all()
        vids = sorted({int(v) for r in rows for v in (r[3] or [])})
        names = _version_names(s, vids)
    out = []
    for jid, name, created, version_ids, models, evaluators, ds_id, ds_name, rev in rows:
        versions = ", ".join(names.get(int(v), str(v)) for v in version_ids or [])
        evals = ", ".join(str(e.get("type", "?")) for e in evaluators or []) or "row checks"
        when = created.strftime("%Y-%m-%d %H:%M") if created else "?"
        label = (f"#{jid} {name or ds_name} · {when} · {versions} × {', '.join(models or [])} · {evals}")
        out.append({"job_id": int(jid), "label": label, "dataset_id": int(ds_id), "dataset": f"{ds_name}@{rev}",
                    "created_at": created})
    return pd.DataFrame(out, columns=["job_id", "label", "dataset_id", "dataset", "created_at"])


def _version_names(s: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = s.execute(select(PromptVersion.id, Prompt.name, PromptVersion.number)
                     .join(Prompt, Prompt.id == PromptVersion.prompt_id).where(PromptVersion.id.in_(ids))).all()
    return {int(i): version_ref(n, num) for i, n, num in rows}


def compare_versions(engine: Engine | Session | None, job_id: int,
                     other_job_id: int | None = None) -> VersionComparison:
    """The figures of every version x model of a job (or of two jobs, on the rows both ran) on one scale."""
    engine = engine_of(engine)
    with Session(engine) as s:
        job = s.get(BatchJob, int(job_id))
        if job is None:
            raise NotFoundError(f"batch job {job_id} not found")
        jobs = [job]
        if other_job_id is not None and int(other_job_id) != job.id:
            other = s.get(BatchJob, int(other_job_id))
            if other is None:
                raise NotFoundError(f"batch job {other_job_id} not found")
            if other.dataset_id != job.dataset_id:
                raise ValidationError(f"jobs #{job.id} and #{other.id} ran on different datasets (or revisions of "
                                      "one): they share no rows to compare")
            jobs.append(other)
        ids = tuple(j.id for j in jobs)
        where = [BatchItem.job_id.in_(ids)]
        shared = None
        if len(ids) == 2:
            in_a = select(BatchItem.row_id).where(BatchItem.job_id == ids[0])
            in_b = select(BatchItem.row_id).where(BatchItem.job_id == ids[1])
            where += [BatchItem.row_id.in_(in_a), BatchItem.row_id.in_(in_b)]
            shared = int(s.execute(select(func.count(func.distinct(BatchItem.row_id))).where(*where)).scalar() or 0)
        sides = _sides(s, where, two=len(ids) == 2)
        evals = _evaluators(s, where, sides)
    kinds = {scale_of(e) for e in evals["evaluator"]} if len(evals) else set()
    metric = None if not kinds else ("pass_rate" if kinds == {"pass_fail"} else "score")
    if len(ids) == 1:
        note = f"Batch job #{ids[0]}: every case of the job, each side on its own items."
    else:
        note = (f"Batch jobs #{ids[0]} and #{ids[1]}: only the {shared:,} dataset row{'s' if shared != 1 else ''} "
                "both jobs ran are counted.")
    return VersionComparison(job_ids=ids, dataset_id=job.dataset_id, note=note, metric=metric, sides=sides,
                             evaluators=evals, shared_rows=shared)


def _sides(s: Session, where: list, two: bool) -> pd.DataFrame:
    q = (select(BatchItem.job_id, BatchItem.version_id, BatchItem.model, func.count(),
                func.sum(case((BatchItem.state == "done", 1), else_=0)),
                func.sum(case((BatchItem.state.in_(("error", "incomplete")), 1), else_=0)),
                func.count(BatchItem.passed), func.sum(case((BatchItem.passed.is_(True), 1), else_=0)),
                func.count(BatchItem.score), func.avg(BatchItem.score), func.sum(BatchItem.cost_usd),
                func.avg(Run.latency_ms))
         .outerjoin(Run, Run.id == BatchItem.run_id).where(and_(*where))
         .group_by(BatchItem.job_id, BatchItem.version_id, BatchItem.model))
    rows = s.execute(q).all()
    names = _version_names(s, sorted({int(r[1]) for r in rows}))
    out = []
    for jid, vid, model, n, done, errors, judged, passed, scored, mean, cost, lat in rows:
        version = names.get(int(vid), str(vid))
        label = f"{version} on {model}" + (f" (job #{jid})" if two else "")
        out.append({"side": label, "job_id": int(jid), "version_id": int(vid), "version": version, "model": model,
                    "items": int(n), "done": int(done or 0), "errors": int(errors or 0), "judged": int(judged or 0),
                    "passed": int(passed or 0), "pass_rate": int(passed or 0) / judged if judged else None,
                    "scored": int(scored or 0), "mean_score": float(mean) if mean is not None else None,
                    "cost_usd": float(cost) if cost is not None else None,
                    "mean_latency_ms": float(lat) if lat is not None else None})
    df = pd.DataFrame(out, columns=SIDE_COLUMNS)
    return df.sort_values(["job_id", "version", "model"]).reset_index(drop=True)


def _evaluators(s: Session, where: list, sides: pd.DataFrame) -> pd.DataFrame:
    q = (select(BatchItem.job_id, BatchItem.version_id, BatchItem.model, Score.evaluator,
                func.count(Score.passed), func.sum(case((Score.passed.is_(True), 1), else_=0)),
                func.count(Score.score), func.avg(Score.score))
         .join(Score, Score.run_id == BatchItem.run_id).where(and_(*where), BatchItem.state == "done")
         .group_by(BatchItem.job_id, BatchItem.version_id, BatchItem.model, Score.evaluator))
    label = {(int(r.job_id), int(r.version_id), r.model): r.side for r in sides.itertuples()}
    out = []
    for jid, vid, model, ev, judged, passed, scored, mean in s.execute(q).all():
        kind = scale_of(ev)
        if kind == "pass_fail":
            value, n = (int(passed or 0) / judged if judged else None), int(judged or 0)
        else:
            value, n = (float(mean) if mean is not None else None), int(scored or 0)
        out.append({"side": label.get((int(jid), int(vid), model), f"{vid} on {model}"), "evaluator": ev,
                    "scale": "pass rate (%)" if kind == "pass_fail" else "score (0-1)", "n": n, "value": value})
    return pd.DataFrame(out, columns=EVAL_COLUMNS).sort_values(["evaluator", "side"]).reset_index(drop=True)
