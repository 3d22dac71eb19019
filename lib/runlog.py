"""The run-log writer: Run rows are inserted in batches by one thread, not one commit per call.

Callers hand a Run over and await (or wait for) it to be saved; the writer collects
whatever is queued (up to a batch size, or a few ms), inserts it in one transaction
and resolves every waiter with the saved row (its id filled in).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from .models import Run

log = logging.getLogger(__name__)
MAX_BATCH = 500
LINGER_S = 0.003


class RunLogWriter:
    """One background thread per engine that batches Run inserts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._q: queue.Queue[tuple[Run, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.rows = 0

    def _ensure(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, name="runlog-writer", daemon=True)
                    self._thread.start()

    async def write(self, run: Run) -> Run:
        """Queue a run and wait until it is saved (id set)."""
        self._ensure()
        fut = asyncio.get_running_loop().create_future()
        self._q.put((run, fut))
        return await fut

    def write_nowait(self, run: Run) -> None:
        """Queue a run without waiting (used when nobody is left to wait, e.g. an abandoned stream)."""
        self._ensure()
        self._q.put((run, None))

    def write_sync(self, run: Run, timeout: float = 60.0) -> Run:
        """Queue a run and block until it is saved."""
        self._ensure()
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._q.put((run, fut))
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
            batch = [item]
            deadline = LINGER_S
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get(timeout=deadline) if deadline else self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                deadline = 0.0  # drain what is already queued, then flush
            self._flush(batch)

    def _flush(self, batch: list[tuple[Run, Any]]) -> None:
        try:
            with Session(self.engine, expire_on_commit=False) as s:
                s.add_all([r for r, _ in batch])
                s.commit()
            outcomes: list[tuple[Any, Any, BaseException | None]] = [(f, r, None) for r, f in batch]
        except Exception as exc:  # one bad row must not lose the others: retry one by one
            log.warning("run-log batch of %d failed (%s); saving one by one", len(batch), type(exc).__name__)
            outcomes = []
            for r, f in batch:
                try:
                    with Session(self.engine, expire_on_commit=False) as s:
                        r.id = None
                        s.add(r)
                        s.commit()
                    outcomes.append((f, r, None))
                except Exception as one:  # noqa: BLE001
                    outcomes.append((f, r, one))
        self.batches += 1
        self.rows += len(batch)
        by_loop: dict[Any, list] = {}
        for f, r, err in outcomes:
            if f is None:
                if err:
                    log.warning("run-log row not saved: %s", type(err).__name__)
                continue
            if isinstance(f, concurrent.futures.Future):
                f.set_exception(err) if err else f.set_result(r)
            else:
                by_loop.setdefault(f.get_loop(), []).append((f, r, err))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # loop closed: nobody is waiting any more
                pass


def _resolve(items: list) -> None:
    for f, r, err in items:
        if not f.done():
            f.set_exception(err) if err else f.set_result(r)
