"""The batch worker: where job runners run.

`start_background_worker(engine)` starts (once per process and database) a daemon thread with
its own asyncio loop that works on every runnable job; the app calls it from an
`st.cache_resource` getter, never in the script thread.  `run_worker()` is `python -m lib
worker` (several may share one PostgreSQL: claims use FOR UPDATE SKIP LOCKED), and
`run_job_foreground(job_id)` runs one job in the caller's thread for the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from lib.db import get_engine, session_scope

from . import provider_batch
from .jobs import get_job, runnable_jobs
from .leases import lease_seconds
from .provider_batch import poll_seconds as provider_poll_seconds
from .runner import Caller, JobRunner, new_owner, run_on_client_loop

__all__ = ["JobRunner", "lease_seconds", "run_job_foreground", "run_worker", "start_background_worker",
           "stop_background_worker", "work"]
log = logging.getLogger(__name__)

# ---------------------------------------------------------------- processes and threads

async def work(engine: Engine, *, stop: threading.Event | None = None, once: bool = False, poll_s: float = 1.0,
               caller: Caller | None = None, client: Any = None) -> int:
    """Work on every runnable job (live and provider-batch) until `stop` is set; returns jobs touched."""
    owner = new_owner()
    touched = 0
    last_poll: dict[int, float] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="batch-db") as pool:
        while not (stop and stop.is_set()):
            progressed = False
            try:
                with session_scope(engine) as s:
                    live = runnable_jobs(session=s, mode="live")
                    provider = runnable_jobs(session=s, mode="provider")
            except Exception:  # a locked or restarting database must not end the worker thread for good
                log.warning("batch worker: listing runnable jobs failed, retrying", exc_info=True)
                live, provider = [], []
            for job_id in live:
                if stop and stop.is_set():
                    break
                runner = JobRunner(engine, job_id, caller=caller, client=client, owner=owner, executor=pool,
                                   wait_for_others=False, stop=stop)
                try:
                    await run_on_client_loop(runner)
                except Exception:  # one bad job must not kill the worker
                    log.exception("batch job %s failed in the worker", job_id)
                progressed = progressed or runner.persisted > 0
                touched += 1
            for job_id in provider:
                if not once and time.monotonic() - last_poll.get(job_id, -1e9) < provider_poll_seconds():
                    continue  # provider batches take minutes to hours: poll them gently
                last_poll[job_id] = time.monotonic()
                try:
                    await provider_batch.step(engine, job_id)
                except Exception:
                    log.exception("provider batch job %s: poll failed", job_id)
                touched += 1
            if once:
                break
            if not progressed:  # idle, or only items leased by another (maybe dead) worker: wait
                deadline = time.monotonic() + poll_s
                while time.monotonic() < deadline and not (stop and stop.is_set()):
                    await asyncio.sleep(0.1)
    return touched


_workers: dict[str, tuple[threading.Thread, threading.Event]] = {}
_workers_lock = threading.Lock()


def start_background_worker(engine: Engine | None = None, *, poll_s: float = 1.0) -> threading.Thread:
    """Start (once per process and database) a daemon thread running `work()` on its own loop."""
    engine = engine or get_engine()
    key = str(engine.url)
    with _workers_lock:
        hit = _workers.get(key)
        if hit and hit[0].is_alive():
            return hit[0]
        stop = threading.Event()
        t = threading.Thread(target=lambda: asyncio.run(work(engine, stop=stop, poll_s=poll_s)),
                             name="batch-worker", daemon=True)
        _workers[key] = (t, stop)
        t.start()
        return t


def stop_background_worker(engine: Engine | None = None, timeout: float = 10.0) -> None:
    """Ask the background worker of `engine` to stop and wait for it (tests, shutdown)."""
    key = str((engine or get_engine()).url)
    with _workers_lock:
        hit = _workers.pop(key, None)
    if hit:
        hit[1].set()
        hit[0].join(timeout)


def run_worker(engine: Engine | None = None, *, once: bool = False, poll_s: float = 1.0) -> int:
    """`python -m lib worker`: work until interrupted (or one pass with once=True)."""
    stop = threading.Event()
    try:
        return asyncio.run(work(engine or get_engine(), stop=stop, once=once, poll_s=poll_s))
    except KeyboardInterrupt:
        stop.set()
        return 0


def run_job_foreground(job_id: int, engine: Engine | None = None, *,
                       on_persist: Callable[[int], None] | None = None, caller: Caller | None = None) -> str:
    """Run one job in this thread until it ends (CLI); returns its final status."""
    engine = engine or get_engine()

    async def main() -> str:
        with session_scope(engine) as s:
            mode = get_job(session=s, job_id=job_id).mode
        if mode == "provider":
            return await provider_batch.run_to_end(engine, job_id, on_persist=on_persist)
        return await run_on_client_loop(JobRunner(engine, job_id, caller=caller, on_persist=on_persist))

    return asyncio.run(main())
