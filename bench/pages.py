"""Benchmark: one full script run of each page through AppTest, with a large database.

    .venv/bin/python bench/pages.py                 # 100,000 runs, 200 prompts (the target size)
    .venv/bin/python bench/pages.py --runs 5000 --prompts 50 --repeat 1     # quick

Each page is run once cold (module imports, first queries) and then `--repeat` times warm;
the table shows both and the last line is `slowest_page_ms=N` (the slowest warm median).
Target: every page under 300 ms; history and the prompt list never load all rows.
The baseline row `baseline-empty` is a page with one st.write, run the same way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/pages.py: drop bench/ from the path so `pages` means the app's pages/ folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
os.environ["WORKBENCH_SEED_EXAMPLES"] = "0"
os.environ["WORKBENCH_START_WORKER"] = "0"


def build_db(url: str, n_runs: int, n_prompts: int) -> dict:
    """Migrate, add `n_prompts` prompts (2 versions each, labels) and `n_runs` runs; returns timings."""
    from bench.metrics_fill import fill
    from lib import db, prompts
    from lib.identity import cli_operator
    from lib.settings import get_settings

    get_settings.cache_clear()
    eng = db.get_engine(url)
    t0 = time.perf_counter()
    db.upgrade(eng)
    fill(eng, n_runs)  # runs over 30 days, plus prompts prompt-0..4 with 4 versions each
    t_runs = time.perf_counter() - t0
    with db.session_scope(eng) as s:
        existing = prompts.list_prompts(session=s, page_size=1)[1]
        for i in range(max(0, n_prompts - existing)):
            name = f"bench-{i:04d}"
            prompts.create_prompt(actor=cli_operator(), session=s, name=name, tags=["bench", f"group-{i % 10}"],
                                  description=f"benchmark prompt {i}", model="echo/echo",
                                  messages=[{"role": "system", "content": "You are terse."},
                                            {"role": "user", "content": f"Task {i}: {{{{ input }}}}"}])
            prompts.save_version(actor=cli_operator(), session=s, name=name, messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": f"Task {i} (v2): {{{{ input }}}}"}], model="echo/echo")
            if i % 3 == 0:
                prompts.set_label(actor=cli_operator(), session=s, name=name, label="production", version=2)
    with eng.connect() as conn:
        conn.exec_driver_sql("ANALYZE") if eng.dialect.name == "sqlite" else None
    return {"fill_s": time.perf_counter() - t0, "runs_s": t_runs}


def _patch_navigation() -> None:
    """Make AppTest run app.py on every rerun, as the real server does (see tests/app/conftest.py)."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


def _quiet() -> None:
    """Page errors are listed in the table, not dumped as tracebacks; bare-mode warnings are noise here."""
    import logging

    from streamlit import logger as st_logger

    st_logger.set_log_level("critical")
    for name in [n for n in logging.root.manager.loggerDict if n.startswith(("streamlit", "workbench"))]:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _pages() -> list[str]:
    return [f"pages/{p.name}" for p in sorted((ROOT / "pages").glob("*.py")) if not p.name.startswith("_")]


def measure(repeat: int, timeout: float) -> list[dict]:
    """Cold and warm run times of each page (ms)."""
    from streamlit.testing.v1 import AppTest

    _patch_navigation()
    _quiet()
    rows = []
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    t0 = time.perf_counter()
    at.run()
    rows.append({"page": "app start (bootstrap)", "cold_ms": (time.perf_counter() - t0) * 1000, "warm_ms": None,
                 "error": "; ".join(str(e.value)[:80] for e in at.exception)})
    base = AppTest.from_string("import streamlit as st\nst.write('hello')\n", default_timeout=timeout)
    base.run()
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        base.run()
        warm.append((time.perf_counter() - t0) * 1000)
    rows.append({"page": "baseline-empty", "cold_ms": None, "warm_ms": statistics.median(warm), "error": ""})
    for page in _pages():
        at.switch_page(page)
        t0 = time.perf_counter()
        at.run()
        cold = (time.perf_counter() - t0) * 1000
        warm = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            at.run()
            warm.append((time.perf_counter() - t0) * 1000)
        rows.append({"page": page, "cold_ms": cold, "warm_ms": statistics.median(warm),
                     "error": "; ".join(str(e.value)[:80] for e in at.exception)})
        if page == "pages/prompts.py":  # also with a prompt open: editor, timeline, diff, labels, export
            at.session_state["prompts_selected"] = "bench-0000"
            at.run()
            warm = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                at.run()
                warm.append((time.perf_counter() - t0) * 1000)
            rows.append({"page": "pages/prompts.py (open)", "cold_ms": None, "warm_ms": statistics.median(warm),
                         "error": "; ".join(str(e.value)[:80] for e in at.exception)})
            at.session_state["prompts_selected"] = None
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="warm runs per page (median is reported)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp database")
    args = ap.parse_args()

    _quiet()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-pages-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    os.environ["DATABASE_URL"] = url
    try:
        info = build_db(url, args.runs, args.prompts)
        print(f"database: {args.runs:,} runs, {args.prompts} prompts, filled in {info['fill_s']:.1f}s "
              f"(runs {info['runs_s']:.1f}s)")
        rows = measure(args.repeat, args.timeout)
        print(f"{'page':<28} {'cold ms':>9} {'warm ms':>9}  errors")
        for r in rows:
            cold = "" if r["cold_ms"] is None else f"{r['cold_ms']:.0f}"
            warm = "" if r["warm_ms"] is None else f"{r['warm_ms']:.0f}"
            print(f"{r['page']:<28} {cold:>9} {warm:>9}  {r['error']}")
        failed = [r["page"] for r in rows if r["page"].startswith("pages/") and r["error"]]
        if failed:
            print(f"NOT measured (the page raised): {', '.join(failed)}")
        pages = [r for r in rows if r["page"].startswith("pages/") and not r["error"]]
        base = next(r["warm_ms"] for r in rows if r["page"] == "baseline-empty")
        slowest = max(pages, key=lambda r: r["warm_ms"])
        print(f"slowest page: {slowest['page']} ({slowest['warm_ms'] / base:.1f}x the empty-page baseline); "
              f"target < 300 ms: {'met' if slowest['warm_ms'] < 300 else 'NOT met'}")
        print(f"slowest_page_ms={slowest['warm_ms']:.0f}")
    finally:
        from lib import db

        db.dispose_engines()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
