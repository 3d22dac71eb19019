"""Benchmark: the OpenAI-compatible gateway against calling the same fake upstream directly, same run.

Three processes: a fake OpenAI upstream (aiohttp, 50 ms per answer), the workbench API under uvicorn on
a temp SQLite (an `openai` endpoint pointing at the upstream, a `run` token), and this driver (bare
aiohttp, 64 in flight). It measures

  direct    the driver -> the upstream
  gateway   the driver -> /v1/chat/completions -> lib.client -> the upstream, every call a Run row
  fetch     GET /api/v1/prompts/NAME?label=production with If-None-Match (304s), 64 in flight

and prints a table, then as its last line

    gateway_vs_direct ratio=R fetch_rps=N      (target: R >= 0.7, N >= 2,000)

Not a test: `python bench/gateway_throughput.py [--n 3000]`.
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
sys.path.insert(0, str(ROOT / "bench"))

from client_throughput import start_server as start_upstream  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello."}]


def _serve_api(db_url: str, port_q: mp.Queue) -> None:
    """The API app under uvicorn (own process), as `streamlit run` would serve it."""
    import socket

    import uvicorn

    os.environ["DATABASE_URL"] = db_url
    from lib.api import create_api
    from lib.db import get_engine
    from lib.runtime import tune_gc

    tune_gc()  # as api_routes() does when `streamlit run app.py` serves the API
    engine = get_engine(db_url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port_q.put(sock.getsockname()[1])
    config = uvicorn.Config(create_api(lambda: engine), log_level="warning", access_log=False, lifespan="off",
                            backlog=2048)
    uvicorn.Server(config).run(sockets=[sock])


async def _drive(n: int, conc: int, call) -> tuple[float, int, list[float]]:
    sem = asyncio.Semaphore(conc)
    errors = 0
    lats: list[float] = []

    async def one() -> None:
        nonlocal errors
        async with sem:
            t = time.perf_counter()
            try:
                await call()
                lats.append((time.perf_counter() - t) * 1000)
            except Exception:  # noqa: BLE001 - counted
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*[one() for _ in range(n)])
    return n / (time.perf_counter() - t0), errors, sorted(lats)


async def bench_post(url: str, path: str, body: dict, token: str, n: int, conc: int):
    import aiohttp

    payload = json.dumps(body)
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:
        async def call() -> None:
            async with s.post(url + path, data=payload, headers=headers) as r:
                if r.status != 200:
                    raise RuntimeError(r.status)
                json.loads(await r.read())
        return await _drive(n, conc, call)


async def bench_fetch(url: str, token: str, n: int, conc: int):
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:
        path = f"{url}/api/v1/prompts/support-reply?label=production"
        async with s.get(path, headers={"authorization": f"Bearer {token}"}) as r:
            etag = r.headers["ETag"]
        headers = {"authorization": f"Bearer {token}", "if-none-match": etag}

        async def call() -> None:
            async with s.get(path, headers=headers) as r:
                await r.read()
                if r.status != 304:
                    raise RuntimeError(r.status)
        return await _drive(n, conc, call)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p(lats: list[float], q: float) -> float:
    return lats[min(len(lats) - 1, round(q * (len(lats) - 1)))] if lats else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="calls per measurement")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each (best kept; the machine is shared)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="wb-gw-bench-")
    db_url = f"sqlite:///{tmp}/bench.db"
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("WORKBENCH_SEED_EXAMPLES", "0")
    from sqlmodel import Session, func, select

    from lib import db
    from lib.api import create_token
    from lib.client import add_endpoint
    from lib.identity import cli_operator
    from lib.models import Run
    from lib.prompts import create_prompt, set_label

    engine = db.get_engine(db_url)
    db.upgrade(engine)
    upstream, up_url = start_upstream(args.latency_ms)
    with db.session_scope(engine) as s:
        add_endpoint(session=s, actor=cli_operator(), name="up", kind="openai", base_url=f"{up_url}/v1",
                     max_concurrency=256,
                     timeout_s=60)
        token, _ = create_token(session=s, actor=cli_operator(), name="bench", scope="run", rpm=1_000_000)
        create_prompt(session=s, actor=cli_operator(), name="support-reply",
                      messages=[{"role": "user", "content": "Hi {{name}}"}],
                      model="up/m")
        set_label(session=s, actor=cli_operator(), name="support-reply", label="production", version=1)
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    api = ctx.Process(target=_serve_api, args=(db_url, q), daemon=True)
    api.start()
    gw = f"http://127.0.0.1:{q.get(timeout=60)}"
    body = {"model": "up/m", "messages": MESSAGES}
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"{gw}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        n, c = args.n, args.concurrency
        asyncio.run(bench_post(gw, "/v1/chat/completions", body, token, 300, c))  # warm up pools and caches
        asyncio.run(bench_fetch(gw, token, 300, c))
        best: dict[str, tuple[float, int, list[float]]] = {}
        cpu: dict[str, float] = {}  # the API process's CPU ms per request (load-independent, unlike req/s)
        for _ in range(args.repeat):
            for name, coro in (("direct", lambda: bench_post(up_url, "/v1/chat/completions", body, "x", n, c)),
                               ("gateway", lambda: bench_post(gw, "/v1/chat/completions", body, token, n, c)),
                               ("fetch", lambda: bench_fetch(gw, token, n, c))):
                c0 = _cpu_s(api.pid)
                res = asyncio.run(coro())
                if name != "direct":
                    cpu[name] = min(cpu.get(name, float("inf")), (_cpu_s(api.pid) - c0) * 1000 / n)
                if name not in best or res[0] > best[name][0]:
                    best[name] = res
    finally:
        api.kill()
        api.join(5)
        upstream.kill()
        upstream.join(5)
    with Session(engine) as s:
        written = s.exec(select(func.count()).select_from(Run).where(Run.source == "gateway")).one()
    print(f"\ngateway throughput ({n} calls each, {c} in flight, upstream {args.latency_ms:.0f} ms, best of "
          f"{args.repeat}; {written} gateway Run rows written; load average {os.getloadavg()[0]:.1f})")
    print(f"{'path':<10} {'req/s':>8} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'API cpu ms/req':>15}")
    for name, (rps, errs, lats) in best.items():
        print(f"{name:<10} {rps:>8.0f} {errs:>7} {_p(lats, 0.5):>8.1f} {_p(lats, 0.95):>8.1f} "
              f"{cpu.get(name, float('nan')):>15.2f}")
    ratio = best["gateway"][0] / best["direct"][0]
    print(f"gateway_vs_direct ratio={ratio:.2f} fetch_rps={best['fetch'][0]:.0f}")


if __name__ == "__main__":
    main()
