"""Benchmark (not a test): time and peak memory of importing a 100,000-row CSV.

    .venv/bin/python bench/dataset_import.py [--rows 100000] [--database-url URL]

Each phase runs in a fresh child process so peaks do not mix.  Inside the child the file
bytes are made and every module is imported first; then the kernel's peak-RSS counter is
reset (/proc/self/clear_refs) and the baseline RSS taken; the phase runs; the new peak
(VmHWM) minus the baseline is what the import cost.  Target: < 300 MB over baseline.
Default database: a fresh migrated SQLite file in a temp dir.  Prints a table and, last,
`dataset_import rows=N peak_mb_over_baseline=X seconds=S`.  The `lint` phase (the batch page's
mapping lint over every row) is reported as a ratio to `parse` in the same run (the speed claim
tests/lib/datasets/test_mapping.py used to assert as "under 20 s").
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_MB = 300.0


def _status() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(val.split()[0]) / 1024.0  # kB -> MB
    return out


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _phase(kind: str, rows: int, url: str, queue: mp.Queue) -> None:
    from lib import datasets, db
    from lib.datasets import read_file
    from lib.identity import cli_operator
    from tests.data_files import big_csv

    data = big_csv(rows)
    engine = db.make_engine(url)
    import gc

    gc.collect()
    reset = _reset_peak()
    base = _status()["VmRSS"]
    t0 = time.perf_counter()
    if kind == "parse":
        parsed = read_file(data, "big.csv")
        n = parsed.row_count
    elif kind == "lint":
        parsed = read_file(data, "big.csv")
        from lib.datasets import auto_map, lint
        from lib.models import PromptVersion
        from lib.prompts import variables

        v = PromptVersion(prompt_id=0, number=1,
                          messages=[{"role": "user", "content": "Q: {{question}} ({{context}})"}])
        t0 = time.perf_counter()  # the lint alone
        lint(columns=parsed.columns, variables=variables(v), mapping=auto_map(parsed.columns, variables(v)),
             rows=parsed.rows, version=v, models=["openai/gpt-4o-mini"])
        n = parsed.row_count
    else:
        with db.session_scope(engine) as session:
            ds = datasets.import_dataset(actor=cli_operator(), session=session, data=data, filename="big.csv",
                                         name=f"bench-{time.time_ns()}")
            n = ds.row_count
    elapsed = time.perf_counter() - t0
    peak = _status()["VmHWM"]
    engine.dispose()
    queue.put({"phase": kind, "rows": n, "seconds": elapsed, "baseline_mb": base, "peak_mb": peak,
               "over_mb": peak - base, "exact_peak": reset, "file_mb": len(data) / 2**20})


def run_phase(kind: str, rows: int, url: str) -> dict:
    """Run one phase in a fresh process and return its measurements."""
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    p = ctx.Process(target=_phase, args=(kind, rows, url, q))
    p.start()
    try:
        result = q.get(timeout=600)
    finally:
        p.join(timeout=60)
    return result


def main() -> None:
    """Run both phases and print the table and the summary line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url
        if url is None:
            from lib import db

            url = f"sqlite:///{tmp}/bench.db"
            eng = db.make_engine(url)
            db.upgrade(eng)
            eng.dispose()
        results = [run_phase("parse", args.rows, url), run_phase("lint", args.rows, url),
                   run_phase("import", args.rows, url)]
    print(f"{'phase':<8} {'rows':>8} {'file MB':>8} {'seconds':>8} {'rows/s':>9} {'base MB':>8} {'peak MB':>8} "
          f"{'over MB':>8}")
    for r in results:
        print(f"{r['phase']:<8} {r['rows']:>8} {r['file_mb']:>8.1f} {r['seconds']:>8.2f} "
              f"{r['rows'] / r['seconds']:>9,.0f} {r['baseline_mb']:>8.1f} {r['peak_mb']:>8.1f} {r['over_mb']:>8.1f}")
    imp = results[-1]
    print(f"lint / parse time ratio: {results[1]['seconds'] / results[0]['seconds']:.2f}")
    if not imp["exact_peak"]:
        print("note: could not reset the peak counter; peak includes set-up")
    verdict = "OK" if imp["over_mb"] < TARGET_MB else "OVER TARGET"
    print(f"target < {TARGET_MB:.0f} MB over baseline: {verdict}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in imp.items()}))
    print(f"dataset_import rows={imp['rows']} peak_mb_over_baseline={imp['over_mb']:.1f} seconds={imp['seconds']:.2f}")


if __name__ == "__main__":
    main()
