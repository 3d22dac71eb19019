"""Version comparison: two (prompt version, model) sides that ran on the same dataset, case by case.

Cases are paired by dataset row (batch items of both sides share DatasetRow ids) and repeat.
The verdict uses a paired bootstrap CI of the difference (B - A) on one stated scale: the pass rate
in percentage points (metric "pass_rate": every evaluator is pass/fail) or the mean score on the
evaluators' own 0..1 scale (metric "score"), and McNemar's test on pass/fail; it is stated in words.
`lib.compare.versions` picks the metric for a job and is what the screens call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.db import engine_of
from lib.errors import NotFoundError, ValidationError
from lib.models import BatchItem, BatchJob, Dataset, DatasetRow, Prompt, PromptVersion, Run
from lib.prompts import TextDiff, VersionDiff, diff_texts, diff_versions

from . import stats

MIN_CASES = 10
CASE_COLUMNS = ["row_id", "row_idx", "repeat", "input", "output_a", "output_b", "score_a", "score_b", "passed_a",
                "passed_b", "delta", "changed", "outcome", "run_a", "run_b"]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a prompt version on a model ("endpoint/model" as the batch stored it), in one
    batch job when `job_id` is given (else the latest item of each case in any job on the dataset)."""

    version_id: int
    model: str
    job_id: int | None = None


@dataclass
class Verdict:
    """The statistics of a comparison and the sentence that states them."""

    sentence: str
    n: int
    scored: int
    mean_a: float | None
    mean_b: float | None
    diff: stats.Interval | None
    mcnemar: dict | None
    pass_a: float | None
    pass_b: float | None
    needed: int | None
    outcome: str = "unclear"  # better | worse | same | unclear | unscored


def candidates(engine: Engine | Session | None) -> pd.DataFrame:
    """(dataset, version, model) combinations with finished batch items: what can be compared."""
    engine = engine_of(engine)
    stmt = (select(Dataset.id, Dataset.name, BatchItem.version_id, Prompt.name, PromptVersion.number, BatchItem.model,
                   func.count(func.distinct(BatchItem.row_id)))
            .join(BatchJob, BatchJob.id == BatchItem.job_id).join(Dataset, Dataset.id == BatchJob.dataset_id)
            .join(PromptVersion, PromptVersion.id == BatchItem.version_id)
            .join(Prompt, Prompt.id == PromptVersion.prompt_id)
            .where(BatchItem.state == "done")
            .group_by(Dataset.id, Dataset.name, BatchItem.version_id, Prompt.name, PromptVersion.number,
                      BatchItem.model)
            .order_by(Dataset.name, Prompt.name, PromptVersion.number, BatchItem.model))
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["dataset_id", "dataset", "version_id", "prompt",
                                                         "version_number", "model", "cases"])
    df["label"] = df["prompt"] + ":" + df["version_number"].astype(str) + " on " + df["model"]
    return df


def _side_items(dataset_id: int, side: Side, job_id: int | None = None):
    """The latest finished item per (row, repeat) for one side on one dataset (in one job when given)."""
    latest = (select(func.max(BatchItem.id).label("id"))
              .join(BatchJob, BatchJob.id == BatchItem.job_id)
              .where(BatchJob.dataset_id == dataset_id, BatchItem.version_id == side.version_id,
                     BatchItem.model == side.model, BatchItem.state == "done"))
    job_id = side.job_id if side.job_id is not None else job_id
    if job_id is not None:
        latest = latest.where(BatchItem.job_id == job_id)
    latest = latest.group_by(BatchItem.row_id, BatchItem.repeat)
    return select(BatchItem).where(BatchItem.id.in_(latest)).subquery()


def pair_cases(engine: Engine | Session | None, dataset_id: int, a: Side, b: Side,
               job_id: int | None = None, metric: str = "score") -> pd.DataFrame:
    """One row per case both sides answered: inputs, both answers, scores, delta (B - A) and outcome.

    `job_id` (or each side's own `job_id`) pairs only that job's items; otherwise the latest item of each
    case wins.  `metric` "pass_rate" makes the delta passed_B - passed_A (1, 0, -1); "score" the score's.
    """
    engine = engine_of(engine)
    ia, ib = _side_items(dataset_id, a, job_id), _side_items(dataset_id, b, job_id)
    ra, rb = Run.__table__.alias("ra"), Run.__table__.alias("rb")
    stmt = (select(ia.c.row_id, DatasetRow.idx, ia.c.repeat, DatasetRow.data, ra.c.output, rb.c.output,
                   ia.c.score, ib.c.score, ia.c.passed, ib.c.passed, ia.c.run_id, ib.c.run_id)
            .join(ib, (ib.c.row_id == ia.c.row_id) & (ib.c.repeat == ia.c.repeat))
            .join(DatasetRow, DatasetRow.id == ia.c.row_id)
            .outerjoin(ra, ra.c.id == ia.c.run_id).outerjoin(rb, rb.c.id == ib.c.run_id)
            .order_by(DatasetRow.idx, ia.c.repeat))
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["row_id", "row_idx", "repeat", "input", "output_a",
                                                         "output_b", "score_a", "score_b", "passed_a", "passed_b",
                                                         "run_a", "run_b"])
    if df.empty:
        return pd.DataFrame(columns=CASE_COLUMNS)
    df["input"] = df["input"].map(_summary)
    for s in ("a", "b"):
        df[f"output_{s}"] = df[f"output_{s}"].fillna("")
        # A pass/fail-only evaluator still gives a score: 1 or 0.
        df[f"score_{s}"] = df[f"score_{s}"].astype("float64").where(
            df[f"score_{s}"].notna(), df[f"passed_{s}"].map({True: 1.0, False: 0.0}))
    if metric == "pass_rate":
        pa, pb = (df[f"passed_{x}"].map({True: 1.0, False: 0.0}).astype("float64") for x in ("a", "b"))
        df["delta"] = pb - pa
    else:
        df["delta"] = df["score_b"] - df["score_a"]
    df["changed"] = df["output_a"] != df["output_b"]
    df["outcome"] = np.select([df["delta"] > 1e-12, df["delta"] < -1e-12, df["delta"].notna()],
                              ["better", "worse", "same"], "unscored")
    return df[CASE_COLUMNS]


def _summary(data) -> str:
    if not isinstance(data, dict):
        return str(data or "")
    text = "; ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= 200 else text[:199] + "…"


def filter_cases(cases: pd.DataFrame, show: str = "all") -> pd.DataFrame:
    """Cases for a filter: all | changed (answer differs) | worse | better."""
    if show == "changed":
        return cases[cases["changed"]]
    if show in ("worse", "better"):
        return cases[cases["outcome"] == show]
    return cases


def case_diff(output_a: str, output_b: str) -> TextDiff:
    """Word diff of two answers (plain text markers, never HTML)."""
    return diff_texts(output_a, output_b, "A", "B")


def prompt_diff(engine: Engine | Session | None, version_a: int, version_b: int) -> VersionDiff:
    """The prompt diff shown above the cases."""
    engine = engine_of(engine)
    with Session(engine) as s:
        va, vb = s.get(PromptVersion, version_a), s.get(PromptVersion, version_b)
        if va is None or vb is None:
            raise NotFoundError(f"prompt version {version_a if va is None else version_b} not found")
        return diff_versions(va, vb)


def delta_text(x: float, metric: str = "score") -> str:
    """A difference on the metric's scale: '+12.5 pp' of pass rate, '+0.060' of a 0..1 score."""
    return f"{x * 100:+.1f} pp" if metric == "pass_rate" else f"{x:+.3f}"


def verdict(cases: pd.DataFrame, name_a: str = "A", name_b: str = "B", seed: int = 0,
            metric: str = "score") -> Verdict:
    """Paired bootstrap CI of the difference on one scale (see the module doc) and McNemar's test, in words."""
    n = len(cases)
    pf = cases.dropna(subset=["passed_a", "passed_b"]) if n else cases
    if metric == "pass_rate":
        cases = cases.assign(score_a=cases["passed_a"].map({True: 1.0, False: 0.0}).astype("float64"),
                             score_b=cases["passed_b"].map({True: 1.0, False: 0.0}).astype("float64"))
    sc = cases.dropna(subset=["score_a", "score_b"]) if n else cases
    what = "pass rate" if metric == "pass_rate" else "mean score (0-1 scale)"

    def pts(x: float) -> str:
        return delta_text(x, metric)

    mc = None
    pass_a = pass_b = None
    if len(pf):
        pa, pb = pf["passed_a"].astype(bool), pf["passed_b"].astype(bool)
        mc = stats.mcnemar(int((pa & ~pb).sum()), int((~pa & pb).sum()))
        pass_a, pass_b = float(pa.mean()), float(pb.mean())
    if len(sc) == 0:
        return Verdict("no scored cases in common: run evaluators on both sides", n, 0, None, None, None, mc,
                       pass_a, pass_b, None, "unscored")
    d = (sc["score_b"] - sc["score_a"]).to_numpy(dtype="float64")
    ci = stats.paired_bootstrap(d, seed=seed)
    sd = float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")
    needed = stats.sample_size_mean(sd, ci.estimate) if ci.estimate else None
    tail = ""
    if mc is not None and mc["b"] + mc["c"] > 0:
        tail = (f"; pass rate {pass_a:.0%} -> {pass_b:.0%}, McNemar p = {mc['p_value']:.3g} "
                f"({mc['b']} lost, {mc['c']} gained)")
    ci_text = f"95% CI {pts(ci.low)}..{pts(ci.high)}"
    outcome = "unclear"
    if len(sc) >= MIN_CASES and (ci.low > 0 or ci.high < 0):
        outcome = "better" if ci.estimate > 0 else "worse"
        sentence = f"{name_b} {outcome} than {name_a}: {what} {pts(ci.estimate)}, {ci_text}"
    elif ci.estimate == 0 and ci.low == ci.high:
        outcome = "same"
        sentence = f"no difference: every one of {len(sc)} cases scored the same"
    else:
        about = f"about {needed} needed" if needed else "more cases needed"
        sentence = (f"not enough cases to tell ({len(sc)} scored; {what} {pts(ci.estimate)}, {ci_text}); "
                    f"{about}")
    return Verdict(sentence + tail, n, len(sc), float(sc["score_a"].mean()), float(sc["score_b"].mean()), ci, mc,
                   pass_a, pass_b, needed, outcome)


def check_sides(a: Side, b: Side) -> None:
    """Two sides must differ (a version against itself on the same model says nothing)."""
    if a == b:
        raise ValidationError("pick two different versions or models")
