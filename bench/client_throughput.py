"""Benchmark: chat-call throughput of lib's client against the fastest bare clients, same run.

A fast local fake OpenAI server runs in its own process (one per latency).  For each
server latency (0 and 50 ms) and concurrency (8, 32, 64, 128) it sends N chat calls
through: bare `aiohttp.ClientSession` + semaphore, bare `httpx.AsyncClient`, the
`openai` SDK's `AsyncOpenAI`, and `lib.client` (Run rows written, on a temp SQLite).
Prints a table of req/s and a last line

    client_vs_aiohttp ratio=R     (lib / bare aiohttp at 50 ms, concurrency 64)

The process runs with the GC thresholds every workbench process uses (`lib.runtime.tune_gc`);
the bare clients run in the same process under the same policy.

Not a test: run `python bench/client_throughput.py [--n 2000] [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, friend."},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}).encode()
MESSAGES = [{"role": "user", "content": "Say hello."}]


# -- the fake server (own process) ---------------------------------------------------------------
def _serve(port_q: mp.Queue, latency_ms: float) -> None:
    from aiohttp import web

    delay = latency_ms / 1000.0

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        if delay:
            await asyncio.sleep(delay)
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_q.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    try:
        import uvloop  # type: ignore

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())


def start_server(latency_ms: float) -> tuple[mp.Process, str]:
    """A server process and its base URL."""
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(q, latency_ms), daemon=True)
    proc.start()
    port = q.get(timeout=30)
    return proc, f"http://127.0.0.1:{port}"


# -- clients ---------------------------------------------------------------------------------------
async def _drive(n: int, conc: int, call) -> float:
    """Run n calls with at most conc in flight; returns req/s."""
    sem = asyncio.Semaphore(conc)
    errors = 0

    async def one() -> None:
        nonlocal errors
        async with sem:
            try:
                await call()
            except Exception:  # noqa: BLE001 - counted, the benchmark goes on
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*[one() for _ in range(n)])
    took = time.perf_counter() - t0
    if errors:
        print(f"  ({errors} errors)", file=sys.stderr)
    return n / took


async def bench_aiohttp(url: str, n: int, conc: int) -> float:
    import aiohttp

    payload = json.dumps({"model": "m", "messages": MESSAGES})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:
        async def call() -> None:
            async with s.post(f"{url}/v1/chat/completions", data=payload,
                              headers={"content-type": "application/json", "authorization": "Bearer x"}) as r:
                json.loads(await r.read())
        return await _drive(n, conc, call)


async def bench_httpx(url: str, n: int, conc: int) -> float:
    import httpx

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=conc, max_keepalive_connections=conc),
                                 timeout=60) as c:
        async def call() -> None:
            r = await c.post(f"{url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES},
                             headers={"authorization": "Bearer x"})
            r.json()
        return await _drive(n, conc, call)


async def bench_openai(url: str, n: int, conc: int) -> float:
    import httpx
    from openai import AsyncOpenAI

    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=conc, max_keepalive_connections=conc), timeout=60)
    client = AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, http_client=http)

    async def call() -> None:
        await client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]

    try:
        return await _drive(n, conc, call)
    finally:
        await client.close()


def bench_lib(client, url: str, n: int, conc: int, on_loop: bool) -> float:
    """lib's client, Run rows written; driven on the client's loop, or from another loop (cross-loop hop)."""
    name = f"bench{conc}-{abs(hash(url)) % 10000}"
    from sqlmodel import Session

    from lib.client import add_endpoint, list_endpoints
    from lib.identity import cli_operator

    with Session(client.engine) as s:
        if not any(e.name == name for e in list_endpoints(session=s)):
            add_endpoint(actor=cli_operator(), session=s, name=name, kind="openai", base_url=url, max_concurrency=conc,
                                   timeout_s=60)
            s.commit()

    async def call() -> None:
        r = await client.generate(actor=cli_operator(), model=f"{name}/m", messages=MESSAGES, source="bench")
        if r.status != "ok":
            raise RuntimeError(r.error_message)

    if on_loop:
        return client.run(_drive(n, conc, call))
    return asyncio.run(_drive(n, conc, call))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="calls per cell")
    ap.add_argument("--quick", action="store_true", help="only 50 ms, concurrency 64")
    ap.add_argument("--latencies", default="0,50")
    ap.add_argument("--concurrency", default="8,32,64,128")
    ap.add_argument("--repeat", type=int, default=2, help="runs of aiohttp and lib per cell (best kept)")
    args = ap.parse_args()
    latencies = [50.0] if args.quick else [float(x) for x in args.latencies.split(",")]
    concs = [64] if args.quick else [int(x) for x in args.concurrency.split(",")]

    tmp = tempfile.mkdtemp(prefix="wb-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    os.environ.setdefault("WORKBENCH_SEED_EXAMPLES", "0")
    from lib import db
    from lib.client import ModelClient
    from lib.identity import cli_operator
    from lib.models import Run
    from lib.runtime import tune_gc

    # The GC policy of every workbench process (`python -m lib`, the serving process); the bare clients
    # below run in this same process, under the same policy.
    tune_gc()

    engine = db.get_engine()
    db.upgrade(engine)
    client = ModelClient(engine)
    client.generate_sync(actor=cli_operator(), model="echo/echo", messages=MESSAGES)  # warm up: loop, encoding, prices

    rows = []
    ratio = None
    for lat in latencies:
        proc, url = start_server(lat)
        try:
            for conc in concs:
                cell = {"latency_ms": lat, "concurrency": conc}
                cell["httpx"] = asyncio.run(bench_httpx(url, args.n, conc))
                cell["openai"] = asyncio.run(bench_openai(url, args.n, conc))
                bench_lib(client, url, min(200, args.n), conc, True)  # warm the endpoint's pool
                # aiohttp and lib interleaved, best of --repeat each: the machine may be shared and noisy
                best_a = best_l = best_x = 0.0
                for _ in range(args.repeat):
                    best_a = max(best_a, asyncio.run(bench_aiohttp(url, args.n, conc)))
                    best_l = max(best_l, bench_lib(client, url, args.n, conc, True))
                    best_x = max(best_x, bench_lib(client, url, args.n, conc, False))
                cell.update(aiohttp=best_a, lib=best_l, lib_xloop=best_x)
                rows.append(cell)
                print(f"  {lat:>4.0f} ms c={conc:<4} aiohttp {cell['aiohttp']:7.0f}  httpx {cell['httpx']:7.0f}  "
                      f"openai {cell['openai']:7.0f}  lib {cell['lib']:7.0f}  lib(x-loop) {cell['lib_xloop']:7.0f}",
                      file=sys.stderr, flush=True)
                if lat == 50.0 and conc == 64:
                    ratio = cell["lib"] / cell["aiohttp"]
        finally:
            proc.kill()
            proc.join(5)
    client.close()
    from sqlmodel import Session, func, select

    with Session(engine) as s:
        written = s.exec(select(func.count()).select_from(Run)).one()

    print(f"\nclient throughput, req/s ({args.n} calls per cell, best of {args.repeat} for aiohttp and lib; "
          f"lib writes every Run row: {written} rows; load average at end {os.getloadavg()[0]:.1f})")
    print(f"{'latency':>8} {'conc':>5} {'aiohttp':>9} {'httpx':>9} {'openai':>9} {'lib':>9} {'lib x-loop':>11} "
          f"{'lib/aiohttp':>12}")
    for r in rows:
        print(f"{r['latency_ms']:>6.0f}ms {r['concurrency']:>5} {r['aiohttp']:>9.0f} {r['httpx']:>9.0f} "
              f"{r['openai']:>9.0f} {r['lib']:>9.0f} {r['lib_xloop']:>11.0f} {r['lib'] / r['aiohttp']:>12.2f}")
    if ratio is not None:
        print(f"client_vs_aiohttp ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
