"""Arena leaderboard from literal votes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

import lib.models as m
from lib.compare import arena
from tests.lib.metrics_data import prompt_with_versions, run


def _vote(s: Session, ra: m.Run, rb: m.Run, winner: str, n: int) -> None:
    s.add_all([m.ArenaVote(run_a_id=ra.id, run_b_id=rb.id, winner=winner) for _ in range(n)])


def test_leaderboard(engine):
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s, n=3)
        r1, r2, r3 = (run(v, endpoint="openai", model="gpt-x") for v in vs)
        r3b = run(vs[2], endpoint="anthropic", model="claude")
        s.add_all([r1, r2, r3, r3b])
        s.flush()
        _vote(s, r3, r2, "a", 8)
        _vote(s, r3, r2, "b", 2)
        _vote(s, r2, r1, "a", 7)
        _vote(s, r2, r1, "tie", 2)
        _vote(s, r1, r2, "a", 1)
        _vote(s, r3, r1, "a", 5)
        _vote(s, r3, r3b, "tie", 3)  # same version: ignored when ranking versions
        s.commit()
    lb = arena.leaderboard(engine, by="version", n_boot=50)
    assert lb["player"].tolist() == ["greet:3", "greet:2", "greet:1"]
    assert lb["rank"].tolist() == [1, 2, 3]
    top = lb.iloc[0]
    assert (top["votes"], top["wins"], top["losses"], top["ties"]) == (15, 13, 2, 0)
    mid = lb.iloc[1]
    assert (mid["votes"], mid["wins"], mid["losses"], mid["ties"]) == (20, 9, 9, 2)
    assert mid["win_rate"] == pytest.approx(0.5)
    assert (lb["ci_low"] <= lb["rating"]).all() and (lb["rating"] <= lb["ci_high"]).all()
    by_model = arena.leaderboard(engine, by="model", n_boot=20)
    assert set(by_model["player"]) == {"openai/gpt-x", "anthropic/claude"}
    assert by_model["votes"].tolist() == [3, 3] and by_model["ties"].tolist() == [3, 3]
    full = arena.leaderboard(engine, n_boot=20)
    assert "greet:3 @ anthropic/claude" in set(full["player"])


def test_empty_and_bad_input(engine):
    assert arena.leaderboard(engine).empty
    with pytest.raises(ValueError):
        arena.leaderboard(engine, by="colour")


def test_one_vote_on_three_answers_counts_as_one_vote(engine):
    """#15 item 15: a vote over 3 columns is 2 stored pairs, but each player shows 1 vote, not 2."""
    from lib.compare import record_vote
    from tests.actors import ADMIN

    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s, n=3)
        r1, r2, r3 = (run(v, endpoint="openai", model="gpt-x") for v in vs)
        s.add_all([r1, r2, r3])
        s.flush()
        record_vote(actor=ADMIN, session=s, compare_id="c1", run_ids=[r1.id, r2.id, r3.id], winner_run_id=r3.id)
        record_vote(actor=ADMIN, session=s, compare_id="c2", run_ids=[r1.id, r2.id, r3.id], winner_run_id=None)
        s.commit()
    lb = arena.leaderboard(engine, by="version", n_boot=20).set_index("player")
    assert lb["votes"].to_dict() == {"greet:1": 2, "greet:2": 2, "greet:3": 2}
    assert (lb.loc["greet:3", "wins"], lb.loc["greet:3", "ties"], lb.loc["greet:3", "losses"]) == (1, 1, 0)
    assert (lb.loc["greet:1", "wins"], lb.loc["greet:1", "ties"], lb.loc["greet:1", "losses"]) == (0, 1, 1)
    assert lb.loc["greet:3", "win_rate"] == pytest.approx(0.75)
    # the page's "N votes": two people's votes (a win and a tie), not the 6 player-votes halved (3) or 4 pairs
    assert arena.vote_count(engine, by="version") == 2
    assert arena.vote_count(engine, by="model") == 0  # one model against itself is no contest


def test_votes_without_a_comparison_each_count_once_beside_one_with(engine):
    """Votes stored without a comparison id (imports, scripts) are one vote each, also when another vote has an
    id: pandas then reads the missing ids as NaN, and every such 'b' vote was counted as one."""
    with Session(engine, expire_on_commit=False) as s:
        vs = prompt_with_versions(s, n=2)
        runs = [run(vs[i % 2], endpoint="openai", model="gpt-x") for i in range(8)]
        s.add_all(runs)
        s.flush()
        s.add(m.ArenaVote(compare_id="c1", run_a_id=runs[0].id, run_b_id=runs[1].id, winner="a"))
        for a, b in ((2, 3), (4, 5), (6, 7)):
            s.add(m.ArenaVote(run_a_id=runs[a].id, run_b_id=runs[b].id, winner="b"))
        s.commit()
    assert arena.vote_count(engine, by="version") == 4
    lb = arena.leaderboard(engine, by="version", n_boot=20).set_index("player")
    assert lb["votes"].to_dict() == {"greet:1": 4, "greet:2": 4}
    assert (lb.loc["greet:2", "wins"], lb.loc["greet:2", "losses"]) == (3, 1)
