"""The run-log writer: Run rows are inserted in batches by one thread, not one commit per call.

Callers hand a row (a dict of Run column values) over and await (or wait for) its id;
the writer collects whatever is queued (up to a batch size, or a few ms), inserts it in
one transaction with a Core `INSERT ... RETURNING id` (no ORM objects: the ORM costs
more than the HTTP call at 1,000 calls/s) and resolves every waiter with its id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
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
_TABLE = Run.__table__  # type: ignore[attr-defined]


def _sqlite_time(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _converter(col: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy would bind this column on SQLite: JSON text, UTC text, 0/1."""
    if isinstance(col.type, JSON):
        return lambda v: None if v is None else json.dumps(v)
    impl = getattr(col.type, "impl", None)  # the models' aware-UTC type decorates DateTime
    if isinstance(col.type, DateTime) or isinstance(impl, DateTime) or (isinstance(impl, type)
                                                                        and issubclass(impl, DateTime)):
        return _sqlite_time
    if isinstance(col.type, Boolean):
        return lambda v: None if v is None else int(bool(v))
    return None


_COLUMNS = [c.name for c in _TABLE.columns if c.name != "id"]
_CONV = [(c, _converter(_TABLE.c[c])) for c in _COLUMNS]
_CONVERTED = [(i, conv) for i, (_, conv) in enumerate(_CONV) if conv is not None]
_SQL = f"INSERT INTO run ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


def run_values(run: Run) -> dict[str, Any]:
    """A Run object's column values (without id), for callers holding ORM rows."""
    return {c.name: getattr(run, c.name) for c in _TABLE.columns if c.name != "id"}


class RunLogWriter:
    """One background thread per engine that batches Run inserts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._q: queue.Queue[list[tuple[Any, Any]] | None] = queue.Queue()
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}  # per loop, this turn
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.rows = 0
        self._sqlite = engine.dialect.name == "sqlite"
        self._raw: Any = None  # the writer thread's own DBAPI connection (SQLite)

    def _prep(self, row: dict[str, Any]) -> Any:
        # On SQLite the bind values are made here, in the caller's thread: the writer then runs
        # mostly in C (executemany) and holds the GIL less, which keeps the event loop responsive.
        if self._sqlite:
            vals = [row.get(c) for c in _COLUMNS]
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

        Rows written during one turn of the caller's loop reach the writer thread as one list (one
        queue hand-off and one thread wake-up per turn, not per row: at 1,000 calls/s the wake-ups
        cost more than the inserts)."""
        self._ensure()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._handoff, loop)
        pending.append((self._prep(row), fut))
        return await fut

    def _handoff(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._pending.pop(loop, None)
        if items:
            self._q.put(items)

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

    def _loop(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            if item is None:
                break
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
                batch.extend(nxt)
                wait = 0.0  # drain what is already queued, then flush
            self._flush(batch)
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
        """The DBAPI's executemany on a connection the writer keeps (no pool checkout per batch).

        Ids: the write lock is held from the INSERT to the commit, and a rowid table gives
        max(id)+1 per insert, so the n rows just inserted have ids max-n+1..max.
        """
        if self._raw is None:
            self._raw = self.engine.raw_connection()  # the engine's pragmas (WAL, busy timeout) apply
        raw = self._raw
        cur = raw.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.executemany(_SQL, values)
            if cur.rowcount != len(values):
                raise RuntimeError("run insert count mismatch")
            last = cur.execute("SELECT max(id) FROM run").fetchone()[0]
            raw.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                raw.rollback()
            self._drop_raw()
            raise
        finally:
            cur.close()
        return list(range(last - len(values) + 1, last + 1))

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


def _resolve(items: list) -> None:
    for f, rid, err in items:
        if not f.done():
            f.set_exception(err) if err else f.set_result(rid)
