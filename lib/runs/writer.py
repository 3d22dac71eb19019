"""The run-log writer: Run rows are inserted in batches, not one commit per call.

Callers hand a row (a dict of Run column values) over and await (or wait for) its id.
The rows written during one turn of an event loop are one batch; on SQLite the batch is
inserted right there, on the loop, in one statement, when the write lock is free (it takes
well under a millisecond); when another process holds the lock, or on PostgreSQL, the batch
goes to the writer thread, which waits for the lock (the busy timeout), inserts in one
transaction and retries a failed batch row by row.  No ORM objects: the ORM costs more than
the HTTP call at 1,000 calls/s.

Why on the loop: a thread hand-off cost every call ~6 ms at 64 calls in flight, because each
time the writer thread re-takes the GIL it waits for the busy loop to yield it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, insert
from sqlalchemy.engine import Engine

from lib.models import Run

log = logging.getLogger(__name__)
MAX_BATCH = 500
LINGER_S = 0.0
FLUSH_EVERY_S = 0.001  # a loop's rows are inserted at most this often (see write)
CHECKPOINT_ROWS = 2000  # the loop's inserts skip SQLite's auto-checkpoint; the writer thread runs one this often
CHECKPOINT_WAIT_MS = 50  # how long that checkpoint waits for readers (new writers are held off meanwhile)
_TABLE = Run.__table__  # type: ignore[attr-defined]


def _sqlite_time(v: Any) -> Any:
    """A datetime as SQLAlchemy stores it on SQLite: UTC, 'YYYY-MM-DD HH:MM:SS.ffffff' (isoformat of the UTC
    value, its '+00:00' cut off: half the cost of strftime)."""
    if isinstance(v, datetime):
        if v.tzinfo is None:
            return v.isoformat(" ", "microseconds")
        if v.tzinfo is not UTC:
            v = v.astimezone(UTC)
        return v.isoformat(" ", "microseconds")[:26]
    return v


_encode_json = json.JSONEncoder().encode  # what json.dumps() does with its defaults, without its argument checks


def _json_text(v: Any) -> str:
    """JSON text as SQLAlchemy's JSON type writes it (json.dumps); empty objects and lists, the usual
    parameters and variables, without encoding them."""
    if not v:
        if type(v) is dict:
            return "{}"
        if type(v) is list:
            return "[]"
    return _encode_json(v)


def _flag(v: Any) -> int:
    return int(bool(v))


def _converter(col: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy would bind this column on SQLite: JSON text, UTC text, 0/1."""
    if isinstance(col.type, JSON):
        return _json_text
    impl = getattr(col.type, "impl", None)  # the models' aware-UTC type decorates DateTime
    if isinstance(col.type, DateTime) or isinstance(impl, DateTime) or (isinstance(impl, type)
                                                                        and issubclass(impl, DateTime)):
        return _sqlite_time
    if isinstance(col.type, Boolean):
        return _flag
    return None


_COLUMNS = [c.name for c in _TABLE.columns if c.name != "id"]
_CONV = [(c, _converter(_TABLE.c[c])) for c in _COLUMNS]
_CONVERTED = [(i, conv) for i, (_, conv) in enumerate(_CONV) if conv is not None]


class _Connect:
    """A request to the writer thread: make the connection `loop` inserts on."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop


def run_values(run: Run) -> dict[str, Any]:
    """A Run object's column values (without id), for callers holding ORM rows."""
    return {c.name: getattr(run, c.name) for c in _TABLE.columns if c.name != "id"}


class RunLogWriter:
    """One background thread per engine that batches Run inserts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._q: queue.Queue[list[tuple[Any, Any]] | _Connect | None] = queue.Queue()
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}  # per loop, this turn
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.rows = 0
        self._sqlite = engine.dialect.name == "sqlite"
        self._raw: Any = None  # the writer thread's own DBAPI connection (SQLite)
        db = engine.url.database if self._sqlite else None
        self._inline_ok = bool(db) and db != ":memory:" and not str(db).startswith("file:")
        self._inline: dict[asyncio.AbstractEventLoop, sqlite3.Connection] = {}  # per loop: its own connection
        self._since_checkpoint = 0
        self._inline_lock = threading.Lock()
        self._connecting: set[asyncio.AbstractEventLoop] = set()
        self._last_flush: dict[asyncio.AbstractEventLoop, float] = {}

    def _prep(self, row: dict[str, Any]) -> Any:
        # On SQLite the bind values are made here, in the caller's thread: the writer then runs
        # mostly in C (executemany) and holds the GIL less, which keeps the event loop responsive.
        if self._sqlite:
            vals = list(map(row.get, _COLUMNS))
            for i, conv in _CONVERTED:
                if vals[i] is not None:
                    vals[i] = conv(vals[i])
            return tuple(vals)
        return {c: row.get(c) for c in _COLUMNS}  # every column present: rows of one batch share one statement

    def _ensure(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, name="runlog-writer", daemon=True)
                    self._thread.start()

    async def write(self, row: dict[str, Any]) -> int:
        """Queue a row and wait until it is saved; returns its id.

        Rows written on one loop are one batch: those of one turn, and at high rates those of up to
        FLUSH_EVERY_S (a batch is flushed at most that often per loop, so a lone call waits no longer
        than one turn, and at 2,000 calls/s one insert carries a few dozen rows, not two or three:
        every statement rewrites the pages of the table's indexes)."""
        self._ensure()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            wait = self._last_flush.get(loop, 0.0) + FLUSH_EVERY_S - loop.time()
            if wait > 0:
                loop.call_later(wait, self._handoff, loop)
            else:
                loop.call_soon(self._handoff, loop)
        pending.append((self._prep(row), fut))
        return await fut

    def _handoff(self, loop: asyncio.AbstractEventLoop) -> None:
        self._last_flush[loop] = loop.time()
        items = self._pending.pop(loop, None)
        if items and not (self._inline_ok and self._insert_here(loop, items)):
            self._q.put(items)

    def _insert_here(self, loop: asyncio.AbstractEventLoop, items: list[tuple[Any, Any]]) -> bool:
        """Insert one turn's rows on the loop (SQLite) if the write lock is free now; False hands them to the
        writer thread (lock held elsewhere, or any failure: one statement is atomic, so nothing was saved)."""
        conn = self._inline.get(loop)
        if conn is None:  # made by the writer thread (a pool checkout may wait), never on the loop
            if loop not in self._connecting:
                self._connecting.add(loop)
                self._q.put(_Connect(loop))
            return False
        with self._inline_lock:  # close() may run in another thread
            try:
                ids = _insert_rows(conn, [r for r, _ in items])
            except Exception as exc:  # noqa: BLE001 - the writer thread waits for the lock and retries
                if not (isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)):
                    log.info("run-log insert on the loop failed (%s); handing it to the writer", type(exc).__name__)
                return False
        for (_, fut), rid in zip(items, ids, strict=True):
            if not fut.done():
                fut.set_result(rid)
        self.batches += 1
        self.rows += len(items)
        self._since_checkpoint += len(items)
        if self._since_checkpoint >= CHECKPOINT_ROWS:
            self._since_checkpoint = 0
            self._q.put([])  # an empty batch: the writer thread checkpoints the WAL
        return True

    def _connect_inline(self, loop: asyncio.AbstractEventLoop) -> None:
        """The connection a loop inserts on (run in the writer thread); on failure the loop keeps handing its
        rows to the thread."""
        try:
            conn = _own_connection(self.engine)
            conn.execute("PRAGMA busy_timeout=0")  # never wait on the loop: a held lock sends the rows to the thread
            conn.execute("PRAGMA wal_autocheckpoint=0")  # a checkpoint syncs the file: the writer thread runs them
        except Exception as exc:  # noqa: BLE001 - the thread path still saves every row
            log.info("run-log: no connection for inserts on the loop (%s)", type(exc).__name__)
            return
        with self._inline_lock:
            self._inline[loop] = conn  # type: ignore[assignment]

    def write_nowait(self, row: dict[str, Any]) -> None:
        """Queue a row without waiting (used when nobody is left to wait, e.g. an abandoned stream)."""
        self._ensure()
        self._q.put([(self._prep(row), None)])

    def write_sync(self, row: dict[str, Any], timeout: float = 60.0) -> int:
        """Queue a row and block until it is saved; returns its id."""
        self._ensure()
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._q.put([(self._prep(row), fut)])
        return fut.result(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued and stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout)
        with self._inline_lock:
            for conn in self._inline.values():
                with contextlib.suppress(Exception):
                    conn.close()
            self._inline.clear()
            self._connecting.clear()

    def _loop(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            if item is None:
                break
            if isinstance(item, _Connect):
                self._connect_inline(item.loop)
                continue
            batch = list(item)
            wait = LINGER_S
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get(timeout=wait) if wait else self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if isinstance(nxt, _Connect):
                    self._connect_inline(nxt.loop)
                    continue
                batch.extend(nxt)
                wait = 0.0  # drain what is already queued, then flush
            if batch:
                self._flush(batch)
            else:
                self._checkpoint()
        self._drop_raw()

    def _insert(self, rows: list[Any]) -> list[int]:
        if self._sqlite:
            return self._insert_sqlite(rows)
        stmt = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
        with self.engine.begin() as conn:
            if len(rows) == 1:
                return [conn.execute(insert(_TABLE).returning(_TABLE.c.id), rows[0]).scalar_one()]
            return [r[0] for r in conn.execute(stmt, rows).all()]

    def _insert_sqlite(self, values: list[tuple]) -> list[int]:
        """The batch on a connection the writer thread keeps (autocommit; the engine's busy timeout)."""
        if self._raw is None:
            self._raw = _own_connection(self.engine)
        try:
            return _insert_rows(self._raw, values)
        except BaseException:
            self._drop_raw()
            raise

    def _checkpoint(self) -> None:
        """A RESTART checkpoint of the WAL, for the inserts made on the loop (they skip SQLite's auto-checkpoint).

        A passive one is not enough under sustained load: the loop appends while it copies, the log is never
        wholly copied, so it is never restarted and grows without bound (90 MB after 15,000 calls, and each
        insert got slower as the WAL index grew).  RESTART holds off new writers while it runs, so the loop's
        inserts meanwhile find the lock taken and come here (they never wait on the loop); it waits for
        readers at most CHECKPOINT_WAIT_MS, and if they stay it still copies what it can, like a passive one."""
        try:
            if self._raw is None:
                self._raw = _own_connection(self.engine)
            busy = self._raw.execute("PRAGMA busy_timeout").fetchone()[0]
            self._raw.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                self._raw.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
            finally:
                self._raw.execute(f"PRAGMA busy_timeout={int(busy)}")
        except Exception as exc:  # noqa: BLE001 - the next commit elsewhere checkpoints too
            log.info("run-log checkpoint failed: %s", type(exc).__name__)

    def _drop_raw(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None

    def _flush(self, batch: list[tuple[Any, Any]]) -> None:
        outcomes: list[tuple[Any, int | None, BaseException | None]]
        try:
            ids = self._insert([r for r, _ in batch])
            outcomes = [(f, i, None) for (_, f), i in zip(batch, ids, strict=True)]
        except Exception as exc:  # noqa: BLE001 - one bad row must not lose the others: retry one by one
            log.warning("run-log batch of %d failed (%s); saving one by one", len(batch), type(exc).__name__)
            outcomes = []
            for r, f in batch:
                try:
                    outcomes.append((f, self._insert([r])[0], None))
                except Exception as one:  # noqa: BLE001
                    outcomes.append((f, None, one))
        self.batches += 1
        self.rows += len(batch)
        by_loop: dict[Any, list] = {}
        for f, rid, err in outcomes:
            if f is None:
                if err:
                    log.warning("run-log row not saved: %s", type(err).__name__)
                continue
            if isinstance(f, concurrent.futures.Future):
                f.set_exception(err) if err else f.set_result(rid)
            else:
                by_loop.setdefault(f.get_loop(), []).append((f, rid, err))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # loop closed: nobody is waiting any more
                pass


def _own_connection(engine: Engine) -> sqlite3.Connection:
    """A DBAPI connection of the writer's own, in autocommit mode, with the engine's pragmas (WAL, busy
    timeout, foreign keys); detached from the pool, so it never goes back to it in autocommit mode."""
    fairy = engine.raw_connection()
    conn = fairy.driver_connection
    fairy.detach()
    conn.isolation_level = None  # type: ignore[union-attr]
    return conn  # type: ignore[return-value]


def _insert_rows(conn: sqlite3.Connection, values: list[tuple]) -> list[int]:
    """The rows in autocommitted multi-row INSERTs on an autocommit connection; their ids.

    One statement is one transaction in SQLite, so each statement's rows are saved whole or not at all;
    it holds the write lock throughout and a rowid table gives max(id)+1 per row, so the n rows it
    inserted have ids lastrowid-n+1..lastrowid.  A batch wider than SQLite's bound-parameter limit is
    split over several statements (ids are collected per statement).  Measured at 4 to 64 rows per
    statement: 12-23 us per row, against 17-28 for executemany in a transaction (which also releases
    and re-takes the GIL twice per row) and 26-38 for one JSON array through json_each (SQLite 3.40
    re-parses the JSON for every column)."""
    ids: list[int] = []
    per = max(1, min(MAX_BATCH, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_COLUMNS)))
    cur = conn.cursor()
    try:
        for start in range(0, len(values), per):
            chunk = values[start:start + per]
            cur.execute(_values_sql(len(chunk)), [v for row in chunk for v in row])
            last, saved = cur.lastrowid, cur.rowcount
            if saved != len(chunk) or not last:
                raise RuntimeError("run insert count mismatch")
            ids.extend(range(last - len(chunk) + 1, last + 1))
    finally:
        cur.close()
    return ids


_ONE_ROW = f"({', '.join('?' for _ in _COLUMNS)})"
_VALUES_SQL: dict[int, str] = {}


def _values_sql(n: int) -> str:
    """INSERT of n rows in one statement (the texts are kept: SQLite's statement cache is keyed by them)."""
    sql = _VALUES_SQL.get(n)
    if sql is None:
        sql = _VALUES_SQL[n] = f"INSERT INTO run ({', '.join(_COLUMNS)}) VALUES {', '.join([_ONE_ROW] * n)}"
    return sql


def _resolve(items: list) -> None:
    for f, rid, err in items:
        if not f.done():
            f.set_exception(err) if err else f.set_result(rid)
