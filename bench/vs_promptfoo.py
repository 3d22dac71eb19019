"""Benchmark (not a test): the same CSV and assertion through `promptfoo eval` and `python -m lib batch run`.

One loopback fake server (its own process, each chat call answered after --latency-ms) serves both.
The CSV has N rows (default 3,000) with a promptfoo `__expected` column (`icontains:echo`), the prompt
is `Q: {{question}}`, both run at 64 in flight with caching off, and each is timed end to end as the
command a user types (process start, reading the CSV, every call, every assertion, writing results).

promptfoo is installed from the npm registry with a Node 22 runtime package (`promptfoo`, `node@22`)
into bench/.promptfoo the first time (benchmark only, never in the tests). If that install fails,
the script says so and prints the workbench's own rate.

    .venv/bin/python bench/vs_promptfoo.py [--rows 3000] [--concurrency 64] [--latency-ms 50]

Last line: `vs_promptfoo ratio=R` (workbench rows/s over promptfoo rows/s; target R >= 5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_throughput import start_server  # noqa: E402  (bench/ is not a package)

PF_DIR = ROOT / "bench" / ".promptfoo"
PF_BIN = PF_DIR / "node_modules" / ".bin"


def install_promptfoo() -> str | None:
    """Install promptfoo + node@22 under bench/.promptfoo if missing; None when ready, else the reason."""
    if (PF_BIN / "promptfoo").exists() and (PF_BIN / "node").exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed (apt-get install npm)"
    PF_DIR.mkdir(parents=True, exist_ok=True)
    print("installing promptfoo and node@22 from the npm registry (first run only)...", flush=True)
    proc = subprocess.run([npm, "install", "--prefix", str(PF_DIR), "--no-audit", "--no-fund", "--loglevel=error",
                           "promptfoo", "node@22"], capture_output=True, text=True, timeout=1200, check=False)
    if proc.returncode != 0:
        return f"npm install failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
    return None


def write_csv(path: Path, rows: int) -> None:
    """question + promptfoo __expected (the same assertion for both tools)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("question,__expected\n")
        for i in range(rows):
            f.write(f"what is item {i}?,icontains:echo\n")


def run_promptfoo(tmp: Path, port: int, csv: Path, concurrency: int) -> tuple[float, dict]:
    """Wall seconds of `promptfoo eval` and a summary of its results."""
    cfg = tmp / "promptfooconfig.yaml"
    out = tmp / "pf-results.json"
    cfg.write_text(json.dumps({
        "description": "bench",
        "prompts": ["Q: {{question}}"],
        "providers": [{"id": "openai:chat:fake-model",
                       "config": {"apiBaseUrl": f"http://127.0.0.1:{port}/v1", "apiKey": "not-a-key"}}],
        "tests": f"file://{csv}",
        "evaluateOptions": {"maxConcurrency": concurrency, "cache": False, "showProgressBar": False},
    }), encoding="utf-8")  # JSON is YAML
    home = tmp / "pf-home"
    home.mkdir()
    env = {"PATH": f"{PF_BIN}:{os.environ.get('PATH', '')}", "HOME": str(home), "PROMPTFOO_CONFIG_DIR": str(home),
           "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_CACHE_ENABLED": "false",
           "PROMPTFOO_DISABLE_SHARING": "1", "OPENAI_API_KEY": "not-a-key", "NO_COLOR": "1"}
    t = time.perf_counter()
    proc = subprocess.run([str(PF_BIN / "node"), str(PF_DIR / "node_modules" / "promptfoo" / "dist" / "src" /
                                                     "entrypoint.js"),
                           "eval", "-c", str(cfg), "-o", str(out), "--no-cache", "--max-concurrency",
                           str(concurrency), "--no-progress-bar", "--no-table"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=3600, check=False)
    wall = time.perf_counter() - t
    summary: dict = {"exit": proc.returncode}
    if out.exists():
        data = json.loads(out.read_text(encoding="utf-8"))
        stats = (data.get("results") or {}).get("stats") or {}
        summary.update({k: stats.get(k) for k in ("successes", "failures", "errors")})
    if proc.returncode not in (0, 100) or not out.exists():
        summary["stderr"] = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return wall, summary


def run_workbench(tmp: Path, port: int, csv: Path, concurrency: int) -> tuple[float, dict]:
    """Wall seconds of `python -m lib batch run` (SQLite, every result persisted) and its final status."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'wb.db'}", "WORKBENCH_SEED_EXAMPLES": "0",
           "WORKBENCH_START_WORKER": "0"}

    def lib(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=3600, check=False)

    for args in (("endpoints", "add", "fake", "--kind", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
                  "--max-concurrency", str(concurrency)),
                 ("prompts", "create", "bench", "--message", "user:Q: {{question}}")):
        r = lib(*args)
        if r.returncode != 0:
            raise SystemExit(f"workbench set-up failed: {r.stderr.strip()}")
    t = time.perf_counter()
    r = lib("batch", "run", "--dataset", str(csv), "--prompt", "bench", "--model", "fake/fake-model",
            "--concurrency", str(concurrency), "--json")
    wall = time.perf_counter() - t
    last = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    return wall, {"exit": r.returncode, "status": last.get("status"), "done": (last.get("counts") or {}).get("done"),
                  "passed": last.get("passed"), "scored": last.get("scored")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    args = ap.parse_args()
    problem = install_promptfoo()
    proc, port = start_server(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            csv = tmp / "bench.csv"
            write_csv(csv, args.rows)
            wb_s, wb = run_workbench(tmp, port, csv, args.concurrency)
            pf_s, pf = (None, {}) if problem else run_promptfoo(tmp, port, csv, args.concurrency)
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(10)
    ceiling = args.concurrency / (args.latency_ms / 1000)
    print(f"rows={args.rows} concurrency={args.concurrency} latency={args.latency_ms:g}ms ceiling={ceiling:.0f}/s")
    print(f"{'runner':<40}{'seconds':>10}{'rows/s':>10}  result")
    wb_rate = args.rows / wb_s
    print(f"{'python -m lib batch run (SQLite)':<40}{wb_s:>10.2f}{wb_rate:>10.0f}  {wb}")
    if pf_s is None:
        print(f"promptfoo not measured: {problem}")
        print(f"vs_promptfoo ratio=unknown workbench_rows_per_s={wb_rate:.0f}")
        return
    pf_rate = args.rows / pf_s
    print(f"{'promptfoo eval (node 22, cache off)':<40}{pf_s:>10.2f}{pf_rate:>10.0f}  {pf}")
    print(f"vs_promptfoo ratio={wb_rate / pf_rate:.2f}")


if __name__ == "__main__":
    main()
