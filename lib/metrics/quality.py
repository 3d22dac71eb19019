"""Quality metrics: pass rate and mean score per prompt version x model (evaluators and human ratings)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import case, false, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.db import engine_of
from lib.models import Run, Score

from .aggregations import frame, model_label, version_names
from .filters import Filters, where_sql

COLUMNS = ["version", "model", "scored_runs", "pass_rate", "mean_score", "rated_runs", "thumbs_up_rate",
           "version_id"]


def scores(engine: Engine | Session | None, f: Filters) -> pd.DataFrame:
    """Per (version, model): runs with evaluator scores, pass rate, mean score; runs rated by a human, share of +1.

    Pass rate counts a run as passed only when none of its evaluators failed (as the batch does);
    mean score averages every evaluator score of those runs.  Runs without a version show as '(no version)'.
    """
    engine = engine_of(engine)
    where = where_sql(f)
    # One pass over score x run: a run passed when none of its evaluators failed.
    judged = func.count(func.distinct(case((Score.passed.is_not(None), Score.run_id))))
    failed = func.count(func.distinct(case((Score.passed == false(), Score.run_id))))
    m = model_label()
    ev = (select(Run.version_id, m, func.count(func.distinct(Score.run_id)).label("scored_runs"),
                 case((judged > 0, 1.0 - failed * 1.0 / judged)).label("pass_rate"),
                 func.avg(Score.score).label("mean_score"))
          .join(Run, Run.id == Score.run_id).where(where).group_by(Run.version_id, m))
    rt = (select(Run.version_id, m, func.count().label("rated_runs"),
                 func.avg(case((Run.rating > 0, 1.0), else_=0.0)).label("thumbs_up_rate"))
          .where(where, Run.rating.is_not(None)).group_by(Run.version_id, m)
          .with_hint(Run, "INDEXED BY ix_run_rating", "sqlite"))  # ratings are sparse; SQLite has no stats
    a = frame(engine, ev, ["version_id", "model", "scored_runs", "pass_rate", "mean_score"])
    b = frame(engine, rt, ["version_id", "model", "rated_runs", "thumbs_up_rate"])
    if a.empty and b.empty:
        return pd.DataFrame(columns=COLUMNS)
    for d in (a, b):
        d["version_id"] = d["version_id"].astype("float64")
    df = a.merge(b, on=["version_id", "model"], how="outer")
    names = version_names(engine, df["version_id"].dropna().unique().tolist())
    df = df.merge(names[["version_id", "version"]], on="version_id", how="left")
    df["version"] = df["version"].fillna("(no version)")
    for c in ("scored_runs", "rated_runs"):
        df[c] = df[c].fillna(0).astype("int64")
    for c in ("pass_rate", "mean_score", "thumbs_up_rate"):
        df[c] = df[c].astype("float64")
    return df[COLUMNS].sort_values(["version", "model"]).reset_index(drop=True)
