"""Arena: a leaderboard of prompt versions and models from (blind) compare votes.

Bradley-Terry strengths (ties count half) on an Elo-like scale, with a bootstrap 95%
interval over votes.  A vote between two runs of the same player (e.g. the same model when
ranking models) says nothing about the ranking and is left out.

One person's vote on a comparison of N answers is stored as N-1 pairs (the winner beats each
other answer) or N(N-1)/2 ties; the ratings use the pairs, but `votes`, `wins`, `losses` and
`ties` count ballots (one vote = one, whatever the number of columns), so a single vote never
reads as two.
"""

from __future__ import annotations

from datetime import datetime

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
    stmt = (select(ArenaVote.id, ArenaVote.compare_id, ArenaVote.run_a_id, ArenaVote.winner, ArenaVote.blind,
                   ArenaVote.created_at,
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
    df = pd.DataFrame([tuple(r) for r in rows], columns=["id", "compare_id", "run_a_id", "winner", "blind",
                                                         "created_at", "prompt_a", "num_a", "endpoint_a", "model_a",
                                                         "prompt_b", "num_b", "endpoint_b", "model_b"])
    df["ballot"] = [_ballot(i, c, a, w) for i, c, a, w in
                    zip(df["id"], df["compare_id"], df["run_a_id"], df["winner"], strict=True)]
    for s in ("a", "b"):
        df[f"version_{s}"] = [f"{p}:{int(n)}" if p and pd.notna(n) else "(no version)"
                              for p, n in zip(df[f"prompt_{s}"], df[f"num_{s}"], strict=True)]
        df[f"full_model_{s}"] = [_model(e, m) for e, m in zip(df[f"endpoint_{s}"], df[f"model_{s}"], strict=True)]
    return df


def _ballot(vote_id: int, compare_id: str | None, run_a_id: int, winner: str) -> str:
    """Which person's vote a pair row belongs to: the pairs of one vote share the comparison and the winner
    (record_vote writes the winner as side a; a tie vote is all ties); a row with no comparison stands alone."""
    if pd.isna(compare_id) or not compare_id:  # pandas reads a missing id as NaN once any vote has one
        return f"vote:{vote_id}"
    return f"{compare_id}:tie" if winner == "tie" else f"{compare_id}:{winner}:{run_a_id if winner == 'a' else ''}"


def _model(endpoint: str | None, model: str | None) -> str:
    model = model or ""
    return model if not endpoint or model.startswith(endpoint + "/") else f"{endpoint}/{model}"


def _player(df: pd.DataFrame, side: str, by: str) -> pd.Series:
    if by == "version":
        return df[f"version_{side}"]
    if by == "model":
        return df[f"full_model_{side}"]
    return df[f"version_{side}"] + " @ " + df[f"full_model_{side}"]


def _contested(v: pd.DataFrame, by: str) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Players, winner and ballot of every pair between two different players (a pair of one player is no contest)."""
    if v.empty:
        empty = pd.Series(dtype=object)
        return empty, empty, empty, empty
    pa, pb = _player(v, "a", by), _player(v, "b", by)
    keep = pa != pb
    return pa[keep], pb[keep], v["winner"][keep], v["ballot"][keep]


def vote_count(engine: Engine | Session | None, by: str = "version_model", since: datetime | None = None) -> int:
    """How many votes the leaderboard rests on: one person's vote over N columns is one vote, not N-1 pairs."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    return int(_contested(votes(engine, since), by)[3].nunique())


def leaderboard(engine: Engine | Session | None, by: str = "version_model", since: datetime | None = None,
                n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Players ranked by Bradley-Terry rating with a 95% bootstrap interval, votes and win/loss/tie counts."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    pa, pb, winner, ballot = _contested(votes(engine, since), by)
    if pa.empty:
        return pd.DataFrame(columns=COLUMNS)
    players = sorted(set(pa) | set(pb))
    idx = {p: i for i, p in enumerate(players)}
    score = winner.map({"a": 1.0, "b": 0.0, "tie": 0.5}).fillna(0.5)
    pairs = [(idx[x], idx[y], float(s)) for x, y, s in zip(pa, pb, score, strict=True)]
    est, lo, hi = stats.bt_bootstrap(pairs, len(players), n_boot=n_boot, seed=seed)
    # one outcome per (ballot, player): won if it beat anyone in that vote, else lost if beaten, else tied
    outcome: dict[tuple[str, str], str] = {}
    for x, y, s, b in zip(pa, pb, score, ballot, strict=True):
        for p, mine in ((x, s), (y, 1.0 - s)):
            r = "win" if mine == 1.0 else "loss" if mine == 0.0 else "tie"
            prev = outcome.get((b, p))
            if prev is None or (prev, r) in (("tie", "loss"), ("tie", "win"), ("loss", "win")):
                outcome[(b, p)] = r
    tally = {p: {"win": 0, "loss": 0, "tie": 0} for p in players}
    for (_, p), r in outcome.items():
        tally[p][r] += 1
    rows = []
    for p, i in idx.items():
        t = tally[p]
        n = t["win"] + t["loss"] + t["tie"]
        rows.append({"player": p, "rating": round(float(est[i]), 1), "ci_low": round(float(lo[i]), 1),
                     "ci_high": round(float(hi[i]), 1), "votes": n, "wins": t["win"], "losses": t["loss"],
                     "ties": t["tie"], "win_rate": (t["win"] + t["tie"] / 2) / n if n else None})
    df = pd.DataFrame(rows).sort_values(["rating", "votes"], ascending=[False, False]).reset_index(drop=True)
    df["rank"] = range(1, len(df) + 1)
    return df[COLUMNS]
