"""Benchmark (not a test): the batch job engine against bare aiohttp, same server, same run.

The loopback fake server runs in its own process and answers each chat call after 50 ms.
N items (default 5,000) go through the job engine (SQLite; every Run, Score and item state
persisted) at concurrency 64, and the same number of calls through a bare
`aiohttp.ClientSession` with a semaphore of 64.  The ceiling is 64 / 0.05 = 1,280 calls/s.
It also measures the peak memory of a 100,000-row dataset import (in a fresh process, over
that process's baseline).  The process runs with the GC thresholds of every workbench process
(`lib.runtime.tune_gc`), the baseline too.  The last line is `batch_vs_aiohttp ratio=R` (target R >= 0.8).

    .venv/bin/python bench/batch_throughput.py [--items 5000] [--concurrency 64] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = textwrap.dedent("""
    import asyncio, sys, time
    sys.path.insert(0, {root!r})
    from tests.fakeserver import FakeServer, chat_completions
    srv = FakeServer()
    async def slow(server, request, body, fault):
        await asyncio.sleep({latency})
        return await chat_completions(server, request, body, fault)
    srv.add_route("POST", "/v1/chat/completions", slow)
    srv.start()
    srv.requests = _Null = type("N", (list,), {{"append": lambda self, x: None}})()
    print(srv.port, flush=True)
    sys.stdin.read()
""")

MEMORY = textwrap.dedent("""
    import sys, resource
    sys.path.insert(0, {root!r})
    from lib import db, datasets
    from lib.identity import cli_operator
    from lib.db import session_scope
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    eng = db.make_engine("sqlite:///" + {db!r})
    db.upgrade(eng)
    data = open({csv!r}, "rb").read()
    base = rss()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    import time
    t = time.perf_counter()
    with session_scope(eng) as s:
        ds = datasets.import_dataset(actor=cli_operator(), session=s, data=data, filename="big.csv", name="big")
        n = ds.row_count
    dt = time.perf_counter() - t
    print(n, round(base, 1), round(hwm(), 1), round(dt, 2))
""")


def start_server(latency_ms: float) -> tuple[subprocess.Popen, int]:
    """The fake server in its own process; returns (process, port)."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), latency=latency_ms / 1000)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


async def bare_aiohttp(url: str, n: int, concurrency: int) -> float:
    """Calls per second with a bare aiohttp session and a semaphore."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    conn = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def one(i: int) -> None:
            async with sem:
                async with session.post(url, json={"model": "fake-model", "messages": [
                        {"role": "user", "content": f"Q: what is q{i}?"}]}) as r:
                    await r.json()

        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t)


def engine_run(port: int, n: int, concurrency: int, tmp: Path) -> tuple[float, dict]:
    """Calls per second through the job engine, every result persisted; and a check of what was stored."""
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.db'}"
    from sqlalchemy import func, select

    from lib import batch, datasets, db, prompts
    from lib.batch import run_job_foreground
    from lib.client import add_endpoint
    from lib.db import session_scope
    from lib.identity import cli_operator
    from lib.models import BatchItem, Run, Score
    from lib.settings import get_settings

    get_settings.cache_clear()
    eng = db.get_engine()
    db.upgrade(eng)
    csv = "question\n" + "".join(f"what is q{i}?\n" for i in range(n))
    with session_scope(eng) as s:
        add_endpoint(actor=cli_operator(), session=s, name="fake", kind="openai",
                     base_url=f"http://127.0.0.1:{port}/v1",
                               max_concurrency=concurrency, timeout_s=30)
        ds = datasets.import_dataset(actor=cli_operator(), session=s, data=csv.encode(), filename="bench.csv",
                                     name="bench")
        s.commit()
        v = prompts.create_prompt(actor=cli_operator(), session=s, name="bench", messages=[{"role": "user",
                                  "content": "Q: {{question}}"}])
        job = batch.submit(actor=cli_operator(), session=s, dataset_id=ds.id, version_ids=[v.id],
                           models=["fake/fake-model"],
                           evaluators=["contains:echo"], concurrency=concurrency)
    client_alone(300, concurrency)  # warm-up: connections, price lookup, token tables
    t = time.perf_counter()
    status = run_job_foreground(job.id, eng)
    rate = n / (time.perf_counter() - t)
    with session_scope(eng) as s:
        check = {"status": status,
                 "done": s.execute(select(func.count()).select_from(BatchItem)
                                   .where(BatchItem.state == "done")).scalar(),
                 "runs": s.execute(select(func.count()).select_from(Run)).scalar(),
                 "scores": s.execute(select(func.count()).select_from(Score)).scalar()}
    return rate, check


def client_alone(n: int, concurrency: int) -> float:
    """Calls per second through lib's client alone (generate(record=False), nothing persisted): the floor
    under the engine's cost, to tell the engine's overhead from the client's."""
    from lib.client import get_client
    from lib.db import get_engine
    from lib.identity import cli_operator

    client = get_client(get_engine())

    async def run() -> float:
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem:
                await client.generate(actor=cli_operator(), model="fake/fake-model", record=False,
                                      messages=[{"role": "user", "content": f"Q: what is q{i}?"}])

        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t)

    return asyncio.run_coroutine_threadsafe(run(), client.loop).result()


def import_memory(tmp: Path, rows: int = 100_000) -> tuple[int, float, float, float]:
    """(rows, baseline MB, peak MB, seconds) of a dataset import in a fresh process."""
    csv = tmp / "big.csv"
    with open(csv, "w", encoding="utf-8") as f:
        f.write("id,question,context,expected\n")
        for i in range(rows):
            f.write(f'{i},"What is item {i}?","Some context, with a comma, for row {i}.",answer {i}\n')
    out = subprocess.run([sys.executable, "-c", MEMORY.format(root=str(ROOT), db=str(tmp / "mem.db"), csv=str(csv))],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), float(out[3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--import-rows", type=int, default=100_000)
    args = ap.parse_args()
    from lib.runtime import tune_gc

    tune_gc()  # the GC policy of `python -m lib batch run` and the serving process; the baseline runs under it too
    proc, port = start_server(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            asyncio.run(bare_aiohttp(url, min(500, args.items), args.concurrency))  # warm-up
            base = asyncio.run(bare_aiohttp(url, args.items, args.concurrency))
            rate, check = engine_run(port, args.items, args.concurrency, tmp)
            alone = client_alone(args.items, args.concurrency)
            base2 = asyncio.run(bare_aiohttp(url, args.items, args.concurrency))
            rows, mem_base, mem_peak, secs = import_memory(tmp, args.import_rows)
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(10)
    ceiling = args.concurrency / (args.latency_ms / 1000)
    print(f"items={args.items} concurrency={args.concurrency} latency={args.latency_ms:g}ms ceiling={ceiling:.0f}/s")
    print(f"{'runner':<36}{'calls/s':>10}{'of ceiling':>12}")
    print(f"{'bare aiohttp + semaphore':<36}{base:>10.0f}{base / ceiling:>12.1%}")
    print(f"{'job engine (SQLite, all persisted)':<36}{rate:>10.0f}{rate / ceiling:>12.1%}")
    print(f"{'lib client alone (record=False)':<36}{alone:>10.0f}{alone / ceiling:>12.1%}")
    print(f"{'bare aiohttp again (after)':<36}{base2:>10.0f}{base2 / ceiling:>12.1%}")
    base = (base + base2) / 2  # the machine is shared: compare with the mean of the runs around the engine
    print(f"persisted: {check}")
    print(f"dataset import: {rows} rows in {secs:.1f}s, peak {mem_peak:.0f} MB, baseline {mem_base:.0f} MB, "
          f"over baseline {mem_peak - mem_base:.0f} MB (target < 300 MB)")
    print(f"batch_vs_aiohttp ratio={rate / base:.3f}")


if __name__ == "__main__":
    main()
