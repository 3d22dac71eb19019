"""Comparison verdicts: pairwise arena votes and the fastest/cheapest marks.

Split from `lib.compare` (which runs the columns).  The leaderboard built from these votes
is `lib.arena.leaderboard` (Bradley-Terry with confidence intervals), not computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, select

from lib.errors import ValidationError
from lib.identity import RUN, Identity, require
from lib.models import ArenaVote


def record_vote(*, session: Session, actor: Identity, compare_id: str | None, run_ids: Sequence[int],
                winner_run_id: int | None, blind: bool = True) -> list[ArenaVote]:
    """Record a verdict over a comparison's runs: the winner beats each other run, or (None) all tie."""
    require(actor, RUN)
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
    session.flush()
    return votes


def votes_of(*, session: Session, compare_id: str) -> list[ArenaVote]:
    """The votes already cast on one comparison (empty = not voted yet, so blind names stay hidden)."""
    return list(session.exec(select(ArenaVote).where(ArenaVote.compare_id == compare_id).order_by(ArenaVote.id)))


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
