"""Quality metrics: pass rate and mean score per prompt version x model (evaluators and human ratings)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import case, func, select, true
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .metrics import Filters, _engine, _frame, _version_names, _where
from .models import Run, Score

COLUMNS = ["version", "model", "scored_runs", "pass_rate", "mean_score", "rated_runs", "thumbs_up_rate",
           "version_id"]


def scores(engine: Engine | Session | None, f: Filters) -> pd.DataFrame:
    """Per (version, model): runs with evaluator scores, pass rate, mean score; runs rated by a human, share of +1.

    Pass rate counts a run as passed only when every evaluator on it passed (as the batch does);
    mean score averages every evaluator score.  Runs without a version show as '(no version)'.
    """
    engine = _engine(engine)
    where = _where(f)
    per_run = (select(Score.run_id, func.min(case((Score.passed == true(), 1), (Score.passed.is_not(None), 0)))
                      .label("all_passed"), func.avg(Score.score).label("mean_score"))
               .group_by(Score.run_id).subquery())
    ev = (select(Run.version_id, Run.model, func.count().label("scored_runs"),
                 func.avg(per_run.c.all_passed * 1.0).label("pass_rate"),
                 func.avg(per_run.c.mean_score).label("mean_score"))
          .join(per_run, per_run.c.run_id == Run.id).where(where).group_by(Run.version_id, Run.model))
    rt = (select(Run.version_id, Run.model, func.count().label("rated_runs"),
                 func.avg(case((Run.rating > 0, 1.0), else_=0.0)).label("thumbs_up_rate"))
          .where(where, Run.rating.is_not(None)).group_by(Run.version_id, Run.model))
    a = _frame(engine, ev, ["version_id", "model", "scored_runs", "pass_rate", "mean_score"])
    b = _frame(engine, rt, ["version_id", "model", "rated_runs", "thumbs_up_rate"])
    if a.empty and b.empty:
        return pd.DataFrame(columns=COLUMNS)
    for d in (a, b):
        d["version_id"] = d["version_id"].astype("float64")
    df = a.merge(b, on=["version_id", "model"], how="outer")
    names = _version_names(engine, df["version_id"].dropna().unique().tolist())
    df = df.merge(names[["version_id", "version"]], on="version_id", how="left")
    df["version"] = df["version"].fillna("(no version)")
    for c in ("scored_runs", "rated_runs"):
        df[c] = df[c].fillna(0).astype("int64")
    for c in ("pass_rate", "mean_score", "thumbs_up_rate"):
        df[c] = df[c].astype("float64")
    return df[COLUMNS].sort_values(["version", "model"]).reset_index(drop=True)
