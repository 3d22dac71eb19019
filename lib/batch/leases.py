"""Lease bookkeeping of one job runner: which items it holds and until when their leases are known valid.

A runner renews its leases on a heartbeat (every third of the lease) and, when the lease may have
run out (the heartbeat could not renew in time, e.g. the process was stopped), before it starts
another call.  When a renewal or a write shows that another worker took items over, those items
are dropped from the held set and the runner is told to stop claiming (the store writes nothing
for lost items).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy.engine import Engine

from . import store

log = logging.getLogger(__name__)


def lease_seconds() -> float:
    """Lease length (env WORKBENCH_BATCH_LEASE_S, default 60 s); renewed every third of it."""
    try:
        return max(0.5, float(os.environ.get("WORKBENCH_BATCH_LEASE_S", "60")))
    except ValueError:
        return 60.0


class Leases:
    """The items one runner holds for one job; `db` runs a store function off the loop, `on_lost` stops claiming."""

    def __init__(self, engine: Engine, job_id: int, owner: str, lease_s: float, *,
                 db: Callable[..., Awaitable[Any]], on_lost: Callable[[], None]) -> None:
        self.engine, self.job_id, self.owner, self.lease_s = engine, job_id, owner, lease_s
        self._db, self._on_lost = db, on_lost
        self.held: set[int] = set()  # claimed by this runner and not yet written or released
        self.valid_until = 0.0  # monotonic time until which every held lease is known valid

    def claimed(self, ids: set[int], at: float) -> None:
        """Items claimed at monotonic time `at`; with nothing else held, the lease runs from then."""
        if not (self.held - ids):
            self.valid_until = at + self.lease_s
        self.held |= ids

    def done(self, ids: Iterable[int]) -> None:
        """Items written or handed back: no longer held."""
        self.held.difference_update(ids)

    def lose(self, ids: set[int]) -> None:
        """Another worker took over `ids`: write nothing more for them and stop claiming."""
        if ids:
            log.warning("batch %s: lease lost on %d items; this worker stops claiming", self.job_id, len(ids))
            self.held -= ids
            self._on_lost()

    def may_have_expired(self) -> bool:
        """Whether the held leases may have run out (check before paying for another call)."""
        return time.monotonic() > self.valid_until

    async def renew(self) -> None:
        """Extend every held lease; items another worker took meanwhile are lost."""
        started = time.monotonic()
        before = set(self.held)
        still = await self._db(store.renew, self.engine, self.job_id, self.owner, self.lease_s)
        lost = (before & self.held) - still
        self.lose(lost)
        if not lost:
            self.valid_until = started + self.lease_s

    async def heartbeat(self) -> None:
        """Renew every third of the lease until cancelled."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.renew()
            except Exception:  # noqa: BLE001 - one failed renew (a locked database) must not end the heartbeat
                log.warning("batch %s: lease renewal failed, retrying", self.job_id, exc_info=True)
