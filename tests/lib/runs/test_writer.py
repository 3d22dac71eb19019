"""The run-log writer: what it stores equals what the ORM stores, ids match rows, and a held lock
never blocks the caller's loop (the rows wait in the writer thread instead)."""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from lib.models import Run
from lib.runs import writer as writer_mod
from lib.runs.writer import RunLogWriter, run_values

TRICKY = "é 😀 中文 \"quoted\" back\\slash\nnew line \t tab ' apostrophe"


def _row(i: int, **over) -> dict:
    row = run_values(Run(
        created_at=datetime(2026, 12, 2, 5, 6, 7, 123456, tzinfo=UTC), source="bench", endpoint="ep",
        model=f"m-{i}", params={"temperature": 0.1, "stop": ["\n", "😀"], "nested": {"k": [1, 2.5, None]}},
        variables={"name": TRICKY}, messages=[{"role": "user", "content": TRICKY}], output=f"{TRICKY} {i}",
        status="ok", prompt_tokens=2**31 - 100 + i, completion_tokens=i, usage_estimated=bool(i % 2),
        usage_raw={"prompt_tokens": 1}, cost_usd=1.2345678901234567e-07 * (i + 1), latency_ms=123.45 + i,
        ttft_ms=None, attempts=1, cache_hit=False, tool_calls=None if i % 3 else [{"id": "c", "type": "function",
                                                                                  "function": {"name": "f",
                                                                                               "arguments": "{}"}}]))
    row.update(over)
    return row


def _expected(engine, rows: list[dict]) -> list[dict]:
    """The same rows inserted by the ORM (the reference), read back."""
    with Session(engine) as s:
        runs = [Run(**r) for r in rows]
        s.add_all(runs)
        s.flush()
        ids = [r.id for r in runs]
        s.commit()
    with Session(engine) as s:
        got = [s.get(Run, i) for i in ids]
        return [{k: v for k, v in run_values(r).items()} for r in got]


def _stored(engine, ids: list[int]) -> list[dict]:
    with Session(engine) as s:
        return [run_values(s.get(Run, i)) for i in ids]


def test_stored_rows_equal_the_orm_rows_on_both_databases(engine):
    rows = [_row(i) for i in range(40)]
    w = RunLogWriter(engine)

    async def main():
        return await asyncio.gather(*(w.write(r) for r in rows))

    try:
        ids = asyncio.run(main())
    finally:
        w.close()
    assert len(set(ids)) == 40
    got = _stored(engine, ids)
    assert [g["model"] for g in got] == [f"m-{i}" for i in range(40)]  # each id is its own row
    assert got == _expected(engine, rows)
    assert w.rows == 40 and w.batches < 40


def test_a_lone_write_is_saved_at_once_and_many_share_inserts(sqlite_engine):
    w = RunLogWriter(sqlite_engine)

    async def main():
        first = await w.write(_row(0))
        rest = await asyncio.gather(*(w.write(_row(i)) for i in range(1, 301)))
        return first, rest

    try:
        first, rest = asyncio.run(main())
    finally:
        w.close()
    assert first and len(set(rest)) == 300 and first not in rest
    assert w.batches <= 5  # one turn's 300 rows: one insert (a few at most), not 300
    with Session(sqlite_engine) as s:
        assert len(s.exec(select(Run.id)).all()) == 301


def test_a_held_write_lock_never_blocks_the_loop(sqlite_engine):
    """Another process holds the write lock: the loop keeps running and the rows are saved once it is free."""
    path = sqlite_engine.url.database
    w = RunLogWriter(sqlite_engine)
    ticks = []

    async def main():
        await w.write(_row(0))  # the loop's own connection exists
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO run (created_at, source, endpoint, model, params, variables, messages, output, "
                      "status, usage_estimated, attempts, cache_hit) VALUES ('2026-01-01 00:00:00.000000', 'cli', "
                      "'x', 'held', '{}', '{}', '[]', '', 'ok', 0, 1, 0)")
        writes = asyncio.gather(*(w.write(_row(i)) for i in range(1, 11)))
        for _ in range(20):  # 0.2 s with the lock held: the loop still turns
            await asyncio.sleep(0.01)
            ticks.append(writes.done())
        other.execute("COMMIT")
        other.close()
        return await asyncio.wait_for(writes, 30)

    try:
        ids = asyncio.run(main())
    finally:
        w.close()
    assert len(ticks) == 20 and not any(ticks)  # waited for the lock, without stopping the loop
    got = _stored(sqlite_engine, ids)
    assert [g["model"] for g in got] == [f"m-{i}" for i in range(1, 11)]


def test_a_nan_is_stored_as_the_orm_stores_it(sqlite_engine):
    """NaN (which SQLite binds as NULL) in one row of a batch: every row is saved, as the ORM saves it."""
    w = RunLogWriter(sqlite_engine)

    async def main():
        return await asyncio.gather(w.write(_row(1)), w.write(_row(2, latency_ms=math.nan)), w.write(_row(3)))

    try:
        ids = asyncio.run(main())
    finally:
        w.close()
    got = _stored(sqlite_engine, ids)
    assert [g["model"] for g in got] == ["m-1", "m-2", "m-3"]
    assert got == _expected(sqlite_engine, [_row(1), _row(2, latency_ms=math.nan), _row(3)])


def test_the_wal_is_checkpointed_for_the_loops_inserts(sqlite_engine, monkeypatch):
    """The loop's connection skips SQLite's auto-checkpoint; the writer thread checkpoints, so the WAL stops
    growing, also under sustained load (without checkpoints, or with passive ones that never catch up with
    the loop's appends, 3,000 rows grow it without bound)."""
    path = sqlite_engine.url.database

    def wal_after(rows: int, every: int) -> int:
        monkeypatch.setattr(writer_mod, "CHECKPOINT_ROWS", every)
        w = RunLogWriter(sqlite_engine)

        async def main():
            for start in range(0, rows, 50):  # sustained load: the loop never stops writing
                await asyncio.gather(*(w.write(_row(i)) for i in range(start, start + 50)))
            await asyncio.sleep(0.3)  # the writer thread's last checkpoint
            return os.path.getsize(f"{path}-wal")  # measured before close: the last close removes the WAL

        try:
            return asyncio.run(main())
        finally:
            w.close()

    unchecked = wal_after(3000, 10**9)
    checked = wal_after(3000, 300)
    assert checked < unchecked / 2, (checked, unchecked)


def test_a_batch_wider_than_the_parameter_limit_is_split_and_every_id_is_its_row(sqlite_engine):
    """SQLite bounds the parameters of one statement: a batch over it goes in several statements."""
    conn = writer_mod._own_connection(sqlite_engine)
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, len(writer_mod._COLUMNS) * 3)  # 3 rows per statement
        w = RunLogWriter(sqlite_engine)
        values = [w._prep(_row(i)) for i in range(10)]
        with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):  # one statement would fail
            conn.execute(writer_mod._values_sql(10), [v for row in values for v in row])
        ids = writer_mod._insert_rows(conn, values)
    finally:
        conn.close()
    assert len(ids) == 10
    got = _stored(sqlite_engine, ids)
    assert [g["model"] for g in got] == [f"m-{i}" for i in range(10)]
    assert got == _expected(sqlite_engine, [_row(i) for i in range(10)])


def test_a_long_reader_only_delays_the_checkpoint_and_every_row_is_saved(sqlite_engine, monkeypatch):
    """A reader keeps its snapshot open across many checkpoints: each waits for it a bounded time, holding
    writers off meanwhile (the loop's rows then go to the writer thread); nothing is lost or duplicated."""
    monkeypatch.setattr(writer_mod, "CHECKPOINT_ROWS", 100)
    reader = sqlite3.connect(sqlite_engine.url.database, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM run").fetchone()  # a snapshot held until COMMIT
    w = RunLogWriter(sqlite_engine)

    async def main():
        ids = []
        for start in range(0, 1000, 50):
            ids += await asyncio.wait_for(asyncio.gather(*(w.write(_row(i)) for i in range(start, start + 50))), 30)
        return ids

    try:
        ids = asyncio.run(main())
    finally:
        w.close()
        reader.execute("COMMIT")
        reader.close()
    assert len(set(ids)) == 1000
    got = _stored(sqlite_engine, ids)
    assert [g["model"] for g in got] == [f"m-{i}" for i in range(1000)]
