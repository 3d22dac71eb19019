"""The job runner: claims a job's items with leases, runs them through the model client, persists results.

One `JobRunner` drives one job on an asyncio loop: a dispatcher claims items in chunks and
starts at most `job.concurrency` calls; each finished item goes to a writer task that persists
everything that finished since its last write in ONE short transaction (Run rows in bulk,
Scores, item states by id and lease owner, job spend).  A call's concurrency slot is freed only
once its result is written, so a kill loses at most `concurrency` calls and a resume repeats
nothing that finished.  Database work runs on one helper thread so the loop never blocks.

Leases (`lib.batch.leases`): the runner knows which items it holds, renews before starting a
call once the lease may have run out, and stops claiming when another worker took items over.

`lib.worker` runs JobRunners in threads and processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from lib.client import get_client
from lib.datasets import row_values  # also imported from here by provider_batch and preflight
from lib.errors import WorkbenchError
from lib.evals import coerce
from lib.identity import WORKER
from lib.prompts import count_messages, merge_params, render
from lib.settings import get_settings

from . import store
from .answers import run_dict, score_answer
from .jobs import ACTIVE
from .leases import Leases, lease_seconds
from .owners import new_owner

log = logging.getLogger(__name__)
Caller = Callable[..., Awaitable[Any]]


class JobRunner:
    """Runs one job until it is done, stopped (pause, cancel, 401, budget) or has nothing claimable."""

    def __init__(self, engine: Engine, job_id: int, *, caller: Caller | None = None, client: Any = None,
                 owner: str | None = None, lease_s: float | None = None, executor: ThreadPoolExecutor | None = None,
                 wait_for_others: bool = True, on_persist: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.engine, self.job_id = engine, job_id
        self.client = client
        self.caller = caller
        self.owner = owner or new_owner()
        self.lease_s = lease_s or lease_seconds()
        self._pool = executor or ThreadPoolExecutor(1, thread_name_prefix="batch-db")
        self._own_pool = executor is None
        self.wait_for_others = wait_for_others
        self.on_persist = on_persist
        self.stop_event = stop
        self.stop_reason: tuple[str, str] | None = None  # (status, reason)
        self.persisted = 0
        self._buf: list[store.Finished] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._writing = False
        self._outstanding = 0  # dispatched and not yet persisted
        self._bucket: float | None = None  # tpm bucket, full at the start
        self._bucket_at = 0.0
        self._avg_cost = 0.0
        self._n_cost = 0
        self.leases = Leases(engine, job_id, self.owner, self.lease_s, db=self._db,
                             on_lost=lambda: self._stop("yielded", ""))
        self._streaks: dict[str, tuple[str, int]] = {}  # endpoint -> (error kind, consecutive failures)

    async def _db(self, fn: Callable, *args: Any, **kw: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kw))

    def _caller(self) -> Caller:
        if self.caller is None:
            if self.client is None:
                self.client = get_client(self.engine)
            self.caller = self.client.generate
        return self.caller

    # ------------------------------------------------------------ one item

    async def _compute(self, item: store.Claimed) -> store.Finished:
        version = self.versions[item.version_id]
        data, asserts = self.rows.get(item.row_id, ({}, []))
        values = row_values(data, self.job.mapping or {})
        try:
            if getattr(version, "template_format", "mustache") == "jinja2":
                # a Jinja2 render may run up to its time cap: in a thread, so the loop keeps every other call going
                messages = await asyncio.to_thread(render, version, values)
            else:
                messages = render(version, values)
        except WorkbenchError as exc:  # a template or data problem: no call, the item is an error
            return store.Finished(item.id, "error", error=str(exc))
        if self.job.tpm:
            await self._tpm_acquire(messages)
        try:  # the version goes along so the client merges its params and overrides, as the Playground does
            # the worker makes the call on behalf of whoever started the job (their label goes on the Run)
            res = await self._caller()(actor=WORKER, on_behalf_of=self.job.created_by or None, model=item.model,
                                       version=version, messages=messages, variables=values,
                                       params=self.job.params or {}, source="batch", record=False,
                                       batch_job_id=self.job_id)
        except WorkbenchError as exc:  # bad input found by the client (e.g. a bad mode): no call was made
            return store.Finished(item.id, "error", error=str(exc)[:2000])
        except Exception as exc:  # generate() should never raise; be safe anyway
            log.exception("batch %s item %s: caller raised", self.job_id, item.id)
            return store.Finished(item.id, "error", error=f"{type(exc).__name__}: {exc}"[:2000])
        params = merge_params(version, item.model, self.job.params)
        run = run_dict(res, job_id=self.job_id, version=version, prompt_name=self.names.get(version.id),
                       values=values, item_model=item.model, messages=messages, params=params,
                       actor=self.job.created_by)
        cost = res.cost_usd
        self._breaker(item.model.split("/", 1)[0], res)
        if res.status == "error" and res.error_kind == "auth":
            endpoint = item.model.split("/", 1)[0]
            self._stop("paused", f"authentication failed for endpoint {endpoint!r} "
                                 f"(HTTP {res.http_status or 401}): check its API key, then resume the job")
            return store.Finished(item.id, "pending", run=run, cost_usd=cost)
        if res.status != "ok":
            state = "incomplete" if res.status == "incomplete" else "error"
            return store.Finished(item.id, state, run=run, error=res.error_message or res.error_kind, cost_usd=cost)
        scores, passed, score = await score_answer(
            self.specs, res.text or "", row=data, asserts=asserts, job_id=self.job_id, client=self.client,
            judge_model=self.job.judge_model, on_behalf_of=self.job.created_by or None,
            tool_calls=getattr(res, "tool_calls", None), params=params)
        return store.Finished(item.id, "done", run=run, scores=scores, passed=passed, score=score, cost_usd=cost)

    def _breaker(self, endpoint: str, res: Any) -> None:
        """The circuit breaker per endpoint: N consecutive failures of one kind pause the job with the reason."""
        if res.status != "error":
            self._streaks.pop(endpoint, None)
            return
        kind = res.error_kind or "error"
        last, n = self._streaks.get(endpoint, (kind, 0))
        n = n + 1 if last == kind else 1
        self._streaks[endpoint] = (kind, n)
        limit = get_settings().circuit_breaker_failures
        if limit and n >= limit:
            self._stop("paused", f"endpoint {endpoint!r} failed {n} times in a row ({kind}: "
                                 f"{(res.error_message or '')[:200]}); check it, then resume the job")

    async def _one(self, item: store.Claimed) -> None:
        try:
            fin = await self._compute(item)
        except Exception as exc:  # never lose the slot
            log.exception("batch %s item %s failed", self.job_id, item.id)
            fin = store.Finished(item.id, "error", error=f"{type(exc).__name__}: {exc}"[:2000])
        self._buf.append(fin)
        self._wake.set()

    async def _tpm_acquire(self, messages: list[dict]) -> None:
        """The job's tokens-per-minute limit (estimated prompt tokens): a bucket refilled at tpm/60 per second
        holding at most 5 seconds' worth, so no minute ever goes over."""
        rate = self.job.tpm / 60.0
        cap = max(rate * 5.0, 1.0)
        need = min(float(count_messages(messages)), cap)
        if self._bucket is None:
            self._bucket, self._bucket_at = cap, time.monotonic()
        for _ in range(100_000):
            now = time.monotonic()
            self._bucket = min(cap, self._bucket + (now - self._bucket_at) * rate)
            self._bucket_at = now
            if self._bucket >= need:
                self._bucket -= need
                return
            await asyncio.sleep(min(5.0, (need - self._bucket) / rate))

    # ------------------------------------------------------------ control

    def _stop(self, status: str, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = (status, reason)

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buf:
                batch, self._buf = self._buf, []
                self._writing = True
                lost: set[int] = set()
                pending = batch
                for attempt in range(5):
                    try:
                        written = await self._db(store.persist, self.engine, self.job_id, self.owner, pending)
                        lost |= set(written.lost)
                        self.leases.lose(lost)
                        break
                    except Exception as exc:
                        if attempt == 0:  # one row that cannot be written must not fail its neighbours
                            pending = await self._persist_each(pending, lost)
                            self.leases.lose(lost)
                            if not pending:
                                break
                        if attempt == 4:  # give up without raising: this batch's slots must still be freed
                            await self._unsaved(pending, exc)
                            break
                        log.warning("batch %s: write failed, retrying", self.job_id, exc_info=True)
                        await asyncio.sleep(0.2 * (attempt + 1))
                self.leases.done(fin.item_id for fin in batch)
                for fin in batch:
                    if fin.cost_usd is not None and fin.item_id not in lost:
                        self._n_cost += 1
                        self._avg_cost += (fin.cost_usd - self._avg_cost) / self._n_cost
                    if fin.item_id not in lost:
                        self.spent += fin.cost_usd or 0.0
                    self._sem.release()
                    self._outstanding -= 1
                self._writing = False
                self.persisted += len(batch)
                if self.on_persist:
                    self.on_persist(len(batch))
            if self._closing and not self._buf:
                return

    async def _persist_each(self, batch: list[store.Finished], lost: set[int]) -> list[store.Finished]:
        """Write results one by one; a result whose row still cannot be written is stored as an error item
        (its answer was received: a resume must not pay for it again).  Returns those not written at all;
        items whose lease was lost are added to `lost`."""
        left = []
        for fin in batch:
            try:
                written = await self._db(store.persist, self.engine, self.job_id, self.owner, [fin])
                lost.update(written.lost)
                continue
            except Exception as exc:  # noqa: BLE001 - this row alone: record the item as failed instead
                why = f"the answer was received but could not be stored ({type(exc).__name__}); not repeated"
                log.warning("batch %s item %s: %s", self.job_id, fin.item_id, why, exc_info=True)
            try:
                written = await self._db(store.persist, self.engine, self.job_id, self.owner,
                                         [store.Finished(fin.item_id, "error", error=why, cost_usd=fin.cost_usd)])
                lost.update(written.lost)
            except Exception:  # noqa: BLE001 - the database itself is failing: the caller retries these
                left.append(fin)
        return left

    async def _unsaved(self, batch: list[store.Finished], exc: Exception) -> None:
        """Results that could not be written: pause the job (a retry would pay again) and hand the items back."""
        log.error("batch %s: could not save %d results", self.job_id, len(batch), exc_info=True)
        first = (str(exc).splitlines() or [""])[0][:200]  # not the SQL and parameters that follow
        self._stop("paused", f"could not save results ({type(exc).__name__}: {first}); resume to retry")
        try:
            await self._db(store.release, self.engine, self.owner, [f.item_id for f in batch])
        except Exception:  # noqa: BLE001 - their leases then expire and another run reclaims them
            log.warning("batch %s: could not hand back unsaved items", self.job_id, exc_info=True)

    def _over_budget(self, in_flight: int) -> bool:
        budget = self.job.budget_usd
        if budget is None:
            return False
        return self.spent + in_flight * self._avg_cost >= budget - 1e-12 and (self.spent > 0 or self._n_cost > 0)

    async def _check_job(self) -> None:
        state = await self._db(store.job_state, self.engine, self.job_id)
        if state["status"] not in ACTIVE:
            self._stop(state["status"], "")
        if state["budget_usd"] is not None:
            self.job.budget_usd = state["budget_usd"]
        if self.job.budget_usd is not None and state["spent_usd"] >= self.job.budget_usd:
            self._stop("paused", f"budget reached: spent ${state['spent_usd']:.4f} of ${self.job.budget_usd:.4f}")

    async def run(self) -> str:
        """Run the job; returns its status afterwards ('done', 'paused', ...) or 'yielded'."""
        self.job, self.versions, self.names = await self._db(store.load_job, self.engine, self.job_id)
        if self.job.status not in ACTIVE:
            return self.job.status
        if self.job.mode != "live":
            return "provider"
        problem = await self._db(store.starter_problem, self.engine, self.job_id)
        if problem:  # the worker calls on the starter's behalf: a demoted starter's job spends nothing more
            await self._db(store.set_job, self.engine, self.job_id, status="paused", reason=problem, only_if=ACTIVE)
            return "paused"
        self.specs = [coerce(e) for e in self.job.evaluators or []]
        self.spent = float(self.job.spent_usd or 0.0)
        self.rows: dict[int, tuple[dict, list]] = {}
        self._sem = asyncio.Semaphore(max(1, int(self.job.concurrency or 1)))
        await self._db(store.set_job, self.engine, self.job_id, status="running", only_if=ACTIVE)
        writer = asyncio.create_task(self._writer())
        beat = asyncio.create_task(self.leases.heartbeat())
        queue: deque[store.Claimed] = deque()
        tasks: set[asyncio.Task] = set()
        try:
            outcome = await self._dispatch(queue, tasks)
        finally:
            if queue:
                await self._db(store.release, self.engine, self.owner, [c.id for c in queue])
                self.leases.done(c.id for c in queue)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self._closing = True
            self._wake.set()
            await writer
            beat.cancel()
            if self._own_pool:
                self._pool.shutdown(wait=False)
        return await self._finish(outcome)

    async def _dispatch(self, queue: deque[store.Claimed], tasks: set[asyncio.Task]) -> str:
        """Start calls until the job stops or runs out of items; returns 'done' or 'yielded'."""
        interval = 60.0 / self.job.rpm if self.job.rpm else 0.0
        next_at, checked = 0.0, 0.0
        while self.stop_reason is None:
            now = time.monotonic()
            if self.stop_event is not None and self.stop_event.is_set():
                self._stop("yielded", "")
                break
            if now - checked > 0.25:
                checked = now
                await self._check_job()
                if self.stop_reason:
                    break
            if self._over_budget(self._outstanding):
                if tasks:
                    await asyncio.wait(tasks, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
                    continue
                await self._drain_writer()
                self._stop("paused", f"budget reached: spent ${self.spent:.4f} of ${self.job.budget_usd:.4f}")
                break
            if not queue:
                got = await self._refill(queue, tasks)
                if got == "wait":
                    continue
                if got != "claimed":
                    return got
            await self._sem.acquire()
            if self.stop_reason is None and self.leases.may_have_expired():
                await self.leases.renew()  # the lease may have run out (a stalled process): check before paying
            if self.stop_reason is not None:
                self._sem.release()
                break
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at, time.monotonic()) + interval
            self._outstanding += 1
            t = asyncio.create_task(self._one(queue.popleft()))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        return "yielded"

    async def _refill(self, queue: deque[store.Claimed], tasks: set[asyncio.Task]) -> str:
        """Claim the next items into `queue` (at most one round of calls ahead): 'claimed', 'wait' (try
        again), 'done' (nothing left anywhere) or 'yielded' (other workers hold the rest)."""
        claimed_at = time.monotonic()
        chunk = max(1, int(self.job.concurrency or 1))
        claimed = await self._db(store.claim, self.engine, self.job_id, self.owner, chunk, self.lease_s)
        if claimed:
            self.leases.claimed({c.id for c in claimed}, claimed_at)
            need = [c.row_id for c in claimed if c.row_id not in self.rows]
            if need:
                if len(self.rows) > 50_000:
                    self.rows.clear()
                self.rows.update(await self._db(store.load_rows, self.engine, need))
            queue.extend(claimed)
            return "claimed"
        if tasks:
            await asyncio.wait(tasks, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
            return "wait"
        await self._drain_writer()
        pending, running = await self._db(store.open_counts, self.engine, self.job_id)
        if pending == 0 and running == 0:
            return "done"
        if not self.wait_for_others:
            return "yielded"
        await asyncio.sleep(min(0.5, self.lease_s / 4))
        return "wait"

    async def _drain_writer(self) -> None:
        for _ in range(200):
            if not self._buf and not self._writing:
                return
            await asyncio.sleep(0.01)

    async def _finish(self, outcome: str) -> str:
        if outcome == "done":
            await self._db_sync(store.set_job, self.engine, self.job_id, status="done", only_if=ACTIVE)
            return "done"
        if self.stop_reason and self.stop_reason[0] == "paused" and self.stop_reason[1]:
            await self._db_sync(store.set_job, self.engine, self.job_id, status="paused",
                                reason=self.stop_reason[1], only_if=ACTIVE)
            return "paused"
        if self.stop_reason:
            return self.stop_reason[0]
        return outcome

    async def _db_sync(self, fn: Callable, *args: Any, **kw: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kw)


async def run_on_client_loop(runner: JobRunner) -> str:
    """Run a job on the model client's own loop (no thread hop per call); stand-in callers run here."""
    if runner.caller is not None:
        return await runner.run()
    if runner.client is None:
        runner.client = get_client(runner.engine)
    loop = runner.client.loop
    if asyncio.get_running_loop() is loop:
        return await runner.run()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(runner.run(), loop))
