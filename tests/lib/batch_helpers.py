"""Shared set-up for the batch tests: a dataset, prompt versions and a job on a test database."""

from __future__ import annotations

import asyncio

from lib import prompts
from lib.batch import jobs as batch
from lib.datasets import store as datasets
from lib.db import session_scope
from lib.runs import RunResult
from tests.actors import ADMIN


def make_csv(n: int, extra: str = "") -> bytes:
    """A CSV with columns question, answer (and promptfoo __expected when extra='expected')."""
    head = "question,answer" + (",__expected" if extra == "expected" else "")
    lines = [head]
    for i in range(1, n + 1):
        cell = f",contains:q{i}" if extra == "expected" else ""
        lines.append(f"what is q{i}?,a{i}{cell}")
    return ("\n".join(lines) + "\n").encode()


def setup_job(engine, n: int = 10, *, versions: int = 1, models=("echo/echo",), evaluators=None,
              concurrency: int = 4, budget_usd=None, extra: str = "", repeats: int = 1, mode: str = "live",
              name: str = "qa", params: dict | None = None) -> int:
    """Dataset of n rows, `versions` versions of prompt `name`, one job; returns the job id."""
    with session_scope(engine) as s:
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=make_csv(n, extra), filename=f"{name}.csv", name=name)
        s.commit()
        v = prompts.create_prompt(actor=ADMIN, session=s, name=name, messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q: {{question}}"}])
        vids = [v.id]
        for k in range(1, versions):
            v2, _ = prompts.save_version(actor=ADMIN, session=s, name=name, messages=[
                {"role": "user", "content": f"v{k + 1} {{{{question}}}}"}])
            vids.append(v2.id)
        job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=vids, models=list(models),
                           evaluators=evaluators or [], concurrency=concurrency, budget_usd=budget_usd,
                           repeats=repeats, mode=mode, params=params)
        return job.id


class StandIn:
    """A stand-in caller with the client's generate() keywords: answers with the last message."""

    def __init__(self, *, delay: float = 0.0, cost: float | None = 0.001, fail_on: set[str] | None = None,
                 auth_after: int | None = None) -> None:
        self.calls: list[dict] = []
        self.delay, self.cost, self.fail_on, self.auth_after = delay, cost, fail_on or set(), auth_after
        self.starts: list[float] = []  # loop time at which each call started
        self.in_flight = self.max_in_flight = 0

    async def __call__(self, **kw) -> RunResult:
        self.calls.append(kw)
        self.starts.append(asyncio.get_running_loop().time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(kw)
        finally:
            self.in_flight -= 1

    async def _answer(self, kw: dict) -> RunResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        text = kw["messages"][-1]["content"]
        if self.auth_after is not None and len(self.calls) > self.auth_after:
            return RunResult(status="error", error_kind="auth", error_message="HTTP 401: bad key", http_status=401)
        if any(f in text for f in self.fail_on):
            return RunResult(status="error", error_kind="bad_request", error_message="HTTP 400", http_status=400)
        return RunResult(text=f"echo {text}", status="ok", prompt_tokens=5, completion_tokens=3,
                         cost_usd=self.cost, latency_ms=1.0, attempts=1)
