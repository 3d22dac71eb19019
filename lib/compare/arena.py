"""Arena: a leaderboard of prompt versions and models from (blind) compare votes.

Bradley-Terry strengths (ties count half) on an Elo-like scale, with a bootstrap 95%
interval over votes.  A vote between two runs of the same player (e.g. the same model when
ranking models) says nothing about the ranking and is left out.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.db import engine_of
from lib.models import ArenaVote, Run

from . import stats

BY = ("version_model", "version", "model")
COLUMNS = ["rank", "player", "rating", "ci_low", "ci_high", "votes", "wins", "losses", "ties", "win_rate"]


def votes(engine: Engine | Session | None, since: datetime | None = None, blind_only: bool = False) -> pd.DataFrame:
    """Each vote with the version and model of both runs (votes are few: one per human judgement)."""
    engine = engine_of(engine)
    ra, rb = Run.__table__.alias("ra"), Run.__table__.alias("rb")
    stmt = (select(ArenaVote.id, ArenaVote.winner, ArenaVote.blind, ArenaVote.created_at,
                   ra.c.prompt_name, ra.c.version_number, ra.c.endpoint, ra.c.model,
                   rb.c.prompt_name, rb.c.version_number, rb.c.endpoint, rb.c.model)
            .join(ra, ra.c.id == ArenaVote.run_a_id).join(rb, rb.c.id == ArenaVote.run_b_id)
            .order_by(ArenaVote.id))
    if since is not None:
        stmt = stmt.where(ArenaVote.created_at >= since)
    if blind_only:
        stmt = stmt.where(ArenaVote.blind.is_(True))
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["id", "winner", "blind", "created_at", "prompt_a", "num_a",
                                                         "endpoint_a", "model_a", "prompt_b", "num_b", "endpoint_b",
                                                         "model_b"])
    for s in ("a", "b"):
        df[f"version_{s}"] = [f"{p}:{int(n)}" if p and pd.notna(n) else "(no version)"
                              for p, n in zip(df[f"prompt_{s}"], df[f"num_{s}"], strict=True)]
        df[f"full_model_{s}"] = [_model(e, m) for e, m in zip(df[f"endpoint_{s}"], df[f"model_{s}"], strict=True)]
    return df


def _model(endpoint: str | None, model: str | None) -> str:
    model = model or ""
    return model if not endpoint or model.startswith(endpoint + "/") else f"{endpoint}/{model}"


def _player(df: pd.DataFrame, side: str, by: str) -> pd.Series:
    if by == "version":
        return df[f"version_{side}"]
    if by == "model":
        return df[f"full_model_{side}"]
    return df[f"version_{side}"] + " @ " + df[f"full_model_{side}"]


def leaderboard(engine: Engine | Session | None, by: str = "version_model", since: datetime | None = None,
                n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Players ranked by Bradley-Terry rating with a 95% bootstrap interval, votes and win/loss/tie counts."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    v = votes(engine, since)
    if v.empty:
        return pd.DataFrame(columns=COLUMNS)
    pa, pb = _player(v, "a", by), _player(v, "b", by)
    keep = pa != pb
    pa, pb, winner = pa[keep], pb[keep], v["winner"][keep]
    if pa.empty:
        return pd.DataFrame(columns=COLUMNS)
    players = sorted(set(pa) | set(pb))
    idx = {p: i for i, p in enumerate(players)}
    score = winner.map({"a": 1.0, "b": 0.0, "tie": 0.5}).fillna(0.5)
    pairs = [(idx[x], idx[y], float(s)) for x, y, s in zip(pa, pb, score, strict=True)]
    est, lo, hi = stats.bt_bootstrap(pairs, len(players), n_boot=n_boot, seed=seed)
    ia = np.array([x[0] for x in pairs])
    ib = np.array([x[1] for x in pairs])
    sc = np.array([x[2] for x in pairs])
    k = len(players)

    def count(mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
        return np.bincount(ia[mask_a], minlength=k) + np.bincount(ib[mask_b], minlength=k)

    wins, losses, ties = count(sc == 1.0, sc == 0.0), count(sc == 0.0, sc == 1.0), count(sc == 0.5, sc == 0.5)
    rows = []
    for p, i in idx.items():
        n = int(wins[i] + losses[i] + ties[i])
        rows.append({"player": p, "rating": round(float(est[i]), 1), "ci_low": round(float(lo[i]), 1),
                     "ci_high": round(float(hi[i]), 1), "votes": n, "wins": int(wins[i]), "losses": int(losses[i]),
                     "ties": int(ties[i]), "win_rate": (wins[i] + ties[i] / 2) / n if n else None})
    df = pd.DataFrame(rows).sort_values(["rating", "votes"], ascending=[False, False]).reset_index(drop=True)
    df["rank"] = range(1, len(df) + 1)
    return df[COLUMNS]
