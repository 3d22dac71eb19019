"""Comparison verdicts: pairwise arena votes, Elo-style ratings, and the fastest/cheapest marks.

Split from `lib.compare` (which runs the columns); these are pure functions and short writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from .errors import ValidationError
from .models import ArenaVote, Run

ELO_K = 32.0
ELO_START = 1000.0
MAX_VOTES_RATED = 20_000


def record_vote(*, session: Session, compare_id: str | None, run_ids: Sequence[int], winner_run_id: int | None,
                blind: bool = True) -> list[ArenaVote]:
    """Record a verdict over a comparison's runs: the winner beats each other run, or (None) all tie."""
    ids = [int(r) for r in run_ids if r]
    if len(ids) < 2:
        raise ValidationError("a vote needs at least two answers")
    if winner_run_id is not None and winner_run_id not in ids:
        raise ValidationError(f"run {winner_run_id} is not one of this comparison's answers")
    votes: list[ArenaVote] = []
    if winner_run_id is None:
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                votes.append(ArenaVote(compare_id=compare_id, run_a_id=a, run_b_id=b, winner="tie", blind=blind))
    else:
        for other in ids:
            if other != winner_run_id:
                votes.append(ArenaVote(compare_id=compare_id, run_a_id=winner_run_id, run_b_id=other, winner="a",
                                       blind=blind))
    session.add_all(votes)
    session.commit()
    return votes


def votes_of(*, session: Session, compare_id: str) -> list[ArenaVote]:
    """The votes already cast on one comparison (empty = not voted yet, so blind names stay hidden)."""
    return list(session.exec(select(ArenaVote).where(ArenaVote.compare_id == compare_id).order_by(ArenaVote.id)))


@dataclass
class Rating:
    """One contender's Elo rating and record."""

    key: str
    rating: float
    wins: int = 0
    losses: int = 0
    ties: int = 0

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.ties


def _key(run: Run, by: str) -> str:
    model = f"{run.endpoint}/{run.model}"
    if by == "model":
        return model
    return f"{run.prompt_name or '-'}:v{run.version_number or '-'} · {model}"


def arena_ratings(*, session: Session, by: str = "model", limit: int = MAX_VOTES_RATED) -> list[Rating]:
    """Elo ratings from the most recent `limit` votes, best first; `by` is 'model' or 'variant'."""
    if by not in ("model", "variant"):
        raise ValidationError("ratings are by 'model' or 'variant'")
    votes = list(session.exec(select(ArenaVote).order_by(ArenaVote.id.desc()).limit(limit)))[::-1]
    ids = {v.run_a_id for v in votes} | {v.run_b_id for v in votes}
    runs: dict[int, Run] = {}
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):  # IN lists stay small on every backend
        for r in session.exec(select(Run).where(Run.id.in_(id_list[i:i + 500]))):
            runs[r.id] = r
    table: dict[str, Rating] = {}
    for v in votes:
        ra, rb = runs.get(v.run_a_id), runs.get(v.run_b_id)
        if ra is None or rb is None:
            continue
        a = table.setdefault(_key(ra, by), Rating(_key(ra, by), ELO_START))
        b = table.setdefault(_key(rb, by), Rating(_key(rb, by), ELO_START))
        if a is b:
            continue
        expected_a = 1.0 / (1.0 + 10 ** ((b.rating - a.rating) / 400.0))
        score_a = {"a": 1.0, "b": 0.0}.get(v.winner, 0.5)
        a.rating += ELO_K * (score_a - expected_a)
        b.rating -= ELO_K * (score_a - expected_a)
        if score_a == 1.0:
            a.wins, b.losses = a.wins + 1, b.losses + 1
        elif score_a == 0.0:
            b.wins, a.losses = b.wins + 1, a.losses + 1
        else:
            a.ties, b.ties = a.ties + 1, b.ties + 1
    return sorted((r for r in table.values() if r.games), key=lambda r: (-r.rating, r.key))


def _best(values: list[float | None], tolerance: float) -> set[int]:
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return set()
    low = min(v for v, _ in known)
    # within `tolerance` (relative) of the best counts as a tie: 1,467 vs 1,468 ms is no "fastest"
    winners = {i for v, i in known if v <= low * (1 + tolerance)}
    return set() if len(winners) == len(known) else winners  # everyone tied: no mark


def mark_best(results: Sequence[Any], tolerance: float = 0.05) -> dict[str, set[int]]:
    """Column indices that are the fastest (latency) and the cheapest (known cost) among successful answers."""
    ok = [r if r is not None and getattr(r, "status", "ok") == "ok" else None for r in results]
    return {"fastest": _best([getattr(r, "latency_ms", None) if r else None for r in ok], tolerance),
            "cheapest": _best([getattr(r, "cost_usd", None) if r else None for r in ok], tolerance)}
