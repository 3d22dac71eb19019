"""Compare: columns run concurrently, fill as they arrive, save a permalink; votes and ratings."""

from __future__ import annotations

import random
import time

import pytest
from sqlmodel import select

from lib import prompts
from lib.client import endpoints
from lib.client.model_client import get_client, reset_clients
from lib.compare import arena
from lib.compare import live as compare
from lib.compare import votes as compare_votes
from lib.compare.live import ColumnSpec
from lib.db import session_scope
from lib.errors import NotFoundError, ValidationError
from lib.models import ArenaVote, Comparison, Run
from tests.actors import ADMIN


@pytest.fixture(autouse=True)
def _fresh_clients():
    reset_clients()
    yield
    reset_clients()


def _setup(engine, latency_ms: int = 0) -> list[int]:
    with session_scope(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="slow", kind="echo", models=["echo"], max_concurrency=8,
                               options={"latency_ms": latency_ms})
        v1 = prompts.create_prompt(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                                   "content": "Hi {{who}}"}])
        v2, _ = prompts.save_version(actor=ADMIN, session=s, name="greet",
                                     messages=[{"role": "user", "content": "Hello there, {{who}}!"}])
        return [v1.id, v2.id]


def _wait(job, timeout: float = 20.0) -> None:
    assert job.wait(timeout), "comparison did not finish in time"


def test_three_columns_fill_as_they_arrive_and_are_stored(engine):
    ids = _setup(engine, latency_ms=1000)
    cols = [ColumnSpec(ids[0], "slow/echo"), ColumnSpec(ids[1], "slow/echo"),
            ColumnSpec(ids[1], "slow/echo", {"max_tokens": 3})]
    get_client(engine).generate_sync(actor=ADMIN, model="echo/echo", messages=[{"role": "user", "content": "warm"}],
                                     record=False)
    job = compare.start(actor=ADMIN, engine=engine, columns=cols, variables={"who": "Ada"})
    partial_seen = False
    deadline = time.monotonic() + 20
    while not job.done and time.monotonic() < deadline:  # poll like the page does
        snap = job.snapshot()
        partial_seen = partial_seen or any(s.text and not s.done for s in snap)
        time.sleep(0.02)
    _wait(job)
    # concurrency is proven without a clock by the barrier test below (#11 item 13: this was 'under 2 s');
    # the job's wall time is at least the endpoint's scripted 1 s latency (a lower bound noise cannot break)
    assert job.wall_s is not None and job.wall_s >= 0.9
    assert partial_seen, "no column showed partial text before finishing"
    snap = job.snapshot()
    assert all(s.done and s.error is None and s.result is not None for s in snap)
    assert snap[0].text == "[user] Hi Ada" and snap[1].text == "[user] Hello there, Ada!"
    assert snap[2].result.finish_reason == "length"
    with session_scope(engine) as s:
        row = compare.get_comparison(session=s, compare_id=job.compare_id)
        assert row.run_ids == [st.result.run_id for st in snap] and all(row.run_ids)
        runs = compare.runs_of(session=s, comparison=row)
        assert [r.output for r in runs] == [st.text for st in snap]
        assert {r.source for r in runs} == {"compare"} and {r.compare_id for r in runs} == {job.compare_id}
        assert runs[2].params["max_tokens"] == 3


def test_a_failing_column_does_not_stop_the_others(engine):
    ids = _setup(engine)
    cols = [ColumnSpec(ids[0], "echo/echo"), ColumnSpec(ids[0], "nowhere/model")]
    job = compare.start(actor=ADMIN, engine=engine, columns=cols, variables={"who": "Bo"})
    _wait(job)
    ok, bad = job.snapshot()
    assert ok.result.status == "ok" and ok.text == "[user] Hi Bo"
    assert bad.done and bad.result is None and "nowhere" in bad.error
    with session_scope(engine) as s:
        row = compare.get_comparison(session=s, compare_id=job.compare_id)
        assert row.run_ids[0] == ok.result.run_id and row.run_ids[1] is None


def test_a_started_job_is_found_by_its_id_so_pages_keep_only_the_id(engine):
    ids = _setup(engine)
    job = compare.start(actor=ADMIN, engine=engine, columns=[ColumnSpec(ids[0], "echo/echo"), ColumnSpec(ids[0],
                        "echo/echo")],
                        variables={"who": "Cy"})
    assert compare.running_job(job.compare_id) is job
    assert compare.running_job("no-such-id") is None and compare.running_job(None) is None
    _wait(job)
    assert compare.running_job(job.compare_id).done


def test_missing_variables_show_as_a_column_error(engine):
    ids = _setup(engine)
    job = compare.start(actor=ADMIN, engine=engine, columns=[ColumnSpec(ids[0], "echo/echo"), ColumnSpec(ids[1],
                        "echo/echo")],
                        variables={})
    _wait(job)
    assert all("missing value for variable: who" in s.error for s in job.snapshot())


def test_runs_of_falls_back_to_compare_id(engine):
    ids = _setup(engine)
    with session_scope(engine) as s:
        row = compare.create_comparison(actor=ADMIN, session=s, columns=[ColumnSpec(ids[0], "echo/echo"),
                                                            ColumnSpec(ids[1], "echo/echo")], variables={})
        s.add(Run(source="compare", version_id=ids[1], endpoint="echo", model="echo", output="two",
                  compare_id=row.id))
        s.commit()
        runs = compare.runs_of(session=s, comparison=row)
        assert runs[0] is None and runs[1].output == "two"


def test_validation_and_blind_order(engine):
    ids = _setup(engine)
    with session_scope(engine) as s:
        with pytest.raises(ValidationError, match="2 to 6 columns"):
            compare.create_comparison(actor=ADMIN, session=s, columns=[ColumnSpec(ids[0], "echo/echo")], variables={})
        with pytest.raises(ValidationError, match="column 2: pick a model"):
            compare.create_comparison(actor=ADMIN, session=s, columns=[ColumnSpec(ids[0], "echo/echo"),
                                                          ColumnSpec(ids[0], "echo")], variables={})
        with pytest.raises(NotFoundError):
            compare.create_comparison(actor=ADMIN, session=s, columns=[ColumnSpec(ids[0], "echo/echo"),
                                                          ColumnSpec(99999, "echo/echo")], variables={})
        cols = [ColumnSpec(ids[i % 2], "echo/echo") for i in range(4)]
        row = compare.create_comparison(actor=ADMIN, session=s, columns=cols, variables={"who": "x"}, blind=True,
                                        rng=random.Random(3))
        assert sorted(row.order) == [0, 1, 2, 3] and row.order != [0, 1, 2, 3]
        assert s.get(Comparison, row.id).blind is True
        with pytest.raises(NotFoundError):
            compare.get_comparison(session=s, compare_id="nope")


def _run(s, model: str, latency=None, cost=None) -> int:
    r = Run(source="compare", endpoint=model.split("/")[0], model=model.split("/")[1], latency_ms=latency,
            cost_usd=cost)
    s.add(r)
    s.commit()
    return r.id


def test_votes_feed_the_arena_leaderboard(engine):
    with session_scope(engine) as s:
        a, b, c = _run(s, "x/good"), _run(s, "x/ok"), _run(s, "x/bad")
        votes = compare_votes.record_vote(actor=ADMIN, session=s, compare_id="cmp1", run_ids=[a, b, c], winner_run_id=a)
        assert [(v.run_a_id, v.run_b_id, v.winner) for v in votes] == [(a, b, "a"), (a, c, "a")]
        compare_votes.record_vote(actor=ADMIN, session=s, compare_id="cmp2", run_ids=[b, c], winner_run_id=b,
                                  blind=False)
        compare_votes.record_vote(actor=ADMIN, session=s, compare_id="cmp3", run_ids=[a, b], winner_run_id=None)
        assert len(compare_votes.votes_of(session=s, compare_id="cmp1")) == 2
        assert compare_votes.votes_of(session=s, compare_id="cmp9") == []
        assert s.exec(select(ArenaVote).where(ArenaVote.winner == "tie")).one().blind
        s.commit()  # the caller commits: the leaderboard reads on its own connection
        board = arena.leaderboard(s, by="model", n_boot=20)
        assert list(board["player"]) == ["x/good", "x/ok", "x/bad"]
        # one person's vote over N columns counts once (5d1918c): good cmp1+cmp3, ok cmp1+cmp2+cmp3, bad cmp1+cmp2
        assert list(board["votes"]) == [2, 3, 2]
        with pytest.raises(ValidationError):
            compare_votes.record_vote(actor=ADMIN, session=s, compare_id="x", run_ids=[a], winner_run_id=a)
        with pytest.raises(ValidationError, match="not one of"):
            compare_votes.record_vote(actor=ADMIN, session=s, compare_id="x", run_ids=[a, b], winner_run_id=c)


def test_mark_best():
    class R:
        def __init__(self, latency, cost, status="ok"):
            self.latency_ms, self.cost_usd, self.status = latency, cost, status

    marks = compare_votes.mark_best([R(900, 0.02), R(300, None), R(100, 0.05, "error"), None, R(300, 0.01)])
    assert marks == {"fastest": {1, 4}, "cheapest": {4}}
    assert compare_votes.mark_best([R(1, 0.0), R(1, 0.0)]) == {"fastest": set(), "cheapest": set()}
    assert compare_votes.mark_best([R(1467, 0.1), R(1468, 0.2), R(2000, 0.1)])["fastest"] == {0, 1}  # within 5%
    assert compare_votes.mark_best([R(1467, 0.1), R(1468, 0.2)], tolerance=0)["fastest"] == {0}


def test_three_columns_on_the_fake_server_are_sent_at_once(sqlite_engine, fake_server, monkeypatch):
    """Concurrency shown by order, not seconds (#11 item 13): the server holds every answer until all three
    requests have arrived, so columns sent one after another would never be answered (each gives up after 10 s
    and answers 503)."""
    import asyncio

    from tests.fakeserver import chat_completions

    monkeypatch.setenv("FAKE_KEY", "sk-test-not-real")
    with session_scope(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url + "/v1",
                               api_key_env="FAKE_KEY", models=["m1", "m2", "m3"], max_concurrency=8)
        v = prompts.create_prompt(actor=ADMIN, session=s, name="ask", messages=[{"role": "user",
                                  "content": "Q: {{q}}"}])
        vid = v.id
    assert get_client(sqlite_engine).generate_sync(actor=ADMIN, model="fake/m1",
                                                   messages=[{"role": "user", "content": "hi"}],
                                                   record=False).status == "ok"
    fake_server.reset()
    arrived: set[str] = set()  # models (columns) whose request reached the server; retries add nothing

    async def barrier(server, request, body, fault):
        arrived.add(str(body.get("model")))
        for _ in range(1000):
            if len(arrived) >= 3:
                return await chat_completions(server, request, body, fault)
            await asyncio.sleep(0.01)
        from aiohttp import web

        return web.json_response({"error": {"message": "the other columns never came"}}, status=503)

    fake_server.add_route("POST", "/v1/chat/completions", barrier)
    cols = [ColumnSpec(vid, f"fake/m{i}") for i in (1, 2, 3)]
    job = compare.start(actor=ADMIN, engine=sqlite_engine, columns=cols, variables={"q": "why?"})
    _wait(job, 60)
    snap = job.snapshot()
    assert [s.result.status for s in snap] == ["ok"] * 3, [s.error or s.result.error_message for s in snap]
    assert all(s.text == "echo: Q: why?" for s in snap)
    assert fake_server.count("/v1/chat/completions") == 3


def test_runs_of_matches_unsaved_columns_by_version_model_and_params(engine):
    ids = _setup(engine)
    with session_scope(engine) as s:
        row = compare.create_comparison(actor=ADMIN, session=s, columns=[ColumnSpec(ids[0], "echo/echo",
                                        {"max_tokens": 9}),
                                                            ColumnSpec(ids[0], "echo/echo", {"max_tokens": 3})],
                                        variables={})
        for mt in (3, 9):  # saved in the other order
            s.add(Run(source="compare", version_id=ids[0], endpoint="echo", model="echo", output=f"mt{mt}",
                      params={"temperature": 0.5, "max_tokens": mt}, compare_id=row.id))
        s.commit()
        assert [r.output for r in compare.runs_of(session=s, comparison=row)] == ["mt9", "mt3"]
