"""Benchmark (not a test): the Metrics page over 1,000,000 runs.

Fills a fresh database with N runs (default 1,000,000) spread over the last 30 days in
sessions, as real use produces them (see bench/metrics_fill.py), plus scores for every
batch run, 500 arena votes and a 1,000-case comparison.  Times every aggregation the page
uses (median of --repeat runs) for the page's default range (last 7 days) and for all 30
days, then a cold full page run through streamlit.testing.v1.AppTest (app.py, switched to
pages/metrics.py, Streamlit caches cleared first; best of 2) for each range.  The baseline printed
beside the page is a plain `GROUP BY` over `run` of the same range (what the page would
cost without the rollup).  The last line is `metrics_page_ms=N`: the cold default view
(Overview tab, last 7 days) on SQLite; with --pg the line above it is `metrics_page_pg_ms=N`, the same
view on PostgreSQL (best of 2, after the first refresh of its rollup); the all-30-days number comes before.

    .venv/bin/python bench/metrics.py [--runs 1000000] [--db /tmp/metrics-bench.db] [--reuse] [--pg]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: its pages.py would shadow the app's pages package
os.environ.setdefault("WORKBENCH_SEED_EXAMPLES", "0")
os.environ.setdefault("WORKBENCH_START_WORKER", "0")

from bench.metrics_fill import extras, fill  # noqa: E402
from lib import (  # noqa: E402
    db,
    metrics,
)
from lib.compare import (  # noqa: E402
    Side,
    candidates,
    leaderboard,
    pair_cases,
    verdict,
)
from lib.metrics import (  # noqa: E402
    refresh,
    scores,
    summary,
    totals,
)


def _ms(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def _ranges() -> dict[str, metrics.Filters]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"7d": metrics.Filters(since=today - timedelta(days=6), until=today + timedelta(days=1)),
            "30d": metrics.Filters(since=today - timedelta(days=30), until=today + timedelta(days=1))}


def aggregations(engine, repeat: int, info: dict) -> None:
    """Time each lib call the page makes."""
    for name, f in _ranges().items():
        grain = metrics.grain_for(f.since, f.until)
        lat_grain = "day" if grain == "hour" and f.until - f.since > timedelta(days=2) else grain  # as the page
        total = totals(metrics.rollup(engine, f, grain, keys=["bucket", "model", "status"]))["calls"]
        print(f"-- range {name}: {total:,} runs, grain {grain}")
        sa, sb = (Side(v, "openai/gpt-4o") for v in info.get("versions", (1, 2)))
        ds = info.get("dataset_id", 1)
        cases = [
            ("rollup overview (bucket, model, status)",
             lambda f=f, g=grain: metrics.rollup(engine, f, g, keys=["bucket", "model", "status"])),
            ("rollup errors (bucket, endpoint, status, kind)",
             lambda f=f, g=grain: metrics.rollup(engine, f, g, keys=["bucket", "endpoint", "status", "error_kind"])),
            ("rollup cost by version", lambda f=f, g=grain: metrics.rollup(engine, f, g,
                                                                            keys=["bucket", "version_id", "status"])),
            ("rollup all keys", lambda f=f, g=grain: metrics.rollup(engine, f, g)),
            ("latency p50/p95 + ttft", lambda f=f, g=lat_grain, n=total: metrics.latency(engine, f, g, total=n)),
            ("scores by version x model", lambda f=f: scores(engine, f)),
            ("filter options", lambda: metrics.options(engine)),
            ("headline 24h", lambda: metrics.headline(engine=engine)),
            ("arena leaderboard", lambda: leaderboard(engine)),
            ("versus candidates", lambda: candidates(engine)),
            ("versus pair 1,000 cases + verdict",
             lambda ds=ds, sa=sa, sb=sb: verdict(pair_cases(engine, ds, sa, sb))),
            ("baseline: raw GROUP BY over run", lambda f=f, g=grain: metrics.rollup(engine, f, g,
                                                                                     use_rollup=False)),
        ]
        for label, fn in cases:
            ms, out = _ms(fn, repeat)
            rows = len(out) if hasattr(out, "__len__") and not isinstance(out, dict) else "-"
            print(f"{label:<48} {ms:9.1f} ms  rows={rows}")
    ms, _ = _ms(lambda: summary(engine, datetime.now(UTC) - timedelta(hours=24)), repeat)
    print(f"{'cli metrics summary --since 24h':<48} {ms:9.1f} ms")


def page(url: str, days: int, tab: str | None = None) -> float:
    """A cold full run of the Metrics page (app.py + sidebar + page) through AppTest, in ms."""
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # as tests/app/conftest.py: run app.py on every rerun
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    try:
        os.environ["DATABASE_URL"] = url
        from lib.settings import get_settings

        get_settings.cache_clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        at.switch_page("pages/metrics.py")
        today = datetime.now(UTC).date()
        at.session_state["metrics_dates"] = (today - timedelta(days=days - 1), today)
        if tab:
            at.session_state["metrics_tab"] = tab
        st.cache_data.clear()
        t = time.perf_counter()
        at.run()
        ms = (time.perf_counter() - t) * 1000
        errs = [e.value for e in at.exception] + [e.value for e in at.error]
        if errs:
            raise RuntimeError(f"page failed: {errs}")
        return ms
    finally:
        PagesManager.__init__ = original


def run_sqlite(args) -> tuple[float, float]:
    path = Path(args.db or Path(tempfile.mkdtemp(prefix="wb-metrics-")) / "bench.db")
    url = f"sqlite:///{path}"
    engine = db.get_engine(url)
    info: dict = {}
    have = 0
    if args.reuse and path.exists():
        with engine.connect() as conn:
            have = conn.exec_driver_sql("SELECT count(*) FROM run").scalar()
    if have < args.runs:
        engine.dispose()
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        engine = db.get_engine(url)
        db.upgrade(engine)
        t = time.perf_counter()
        fill(engine, args.runs)
        print(f"fill {args.runs:,} runs (executemany): {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        info = extras(engine)
        print(f"extras {info['scores']:,} scores, {info['votes']} votes, 2 x 1,000 batch items: "
              f"{time.perf_counter() - t:.1f} s")
    else:
        with engine.connect() as conn:
            info["dataset_id"] = conn.exec_driver_sql("SELECT id FROM dataset WHERE name = 'bench-qa'").scalar()
            info["versions"] = tuple(r[0] for r in conn.exec_driver_sql(
                "SELECT id FROM promptversion ORDER BY id LIMIT 2"))
    t = time.perf_counter()
    n = refresh(engine)
    print(f"rollup refresh (first page view after the bulk load): {n:,} runs in {time.perf_counter() - t:.1f} s")
    with engine.connect() as conn:
        print(f"rollup rows: {conn.exec_driver_sql('SELECT count(*) FROM runrollup').scalar():,}; "
              f"db size {path.stat().st_size / 1e6:,.0f} MB")
    print(f"== SQLite aggregations (median of {args.repeat})")
    aggregations(engine, args.repeat, info)
    print("== SQLite page (AppTest, cold caches)")
    page(url, 7)  # warm-up: the first AppTest run in a process also pays imports and script compilation
    for tab in ("Latency", "Cost & tokens", "Errors & reliability", "Throughput", "Quality", "Compare versions",
                "Arena"):
        print(f"page 7d tab {tab:<24} {page(url, 7, tab):9.1f} ms")
    all_ms = min(page(url, 31) for _ in range(2))
    default_ms = min(page(url, 7) for _ in range(2))
    print(f"page overview all 30 days: {all_ms:.0f} ms; default (last 7 days): {default_ms:.0f} ms")
    return default_ms, all_ms


def run_pg(args) -> float | None:
    from tests.pgserver import PostgresServer, find_bindir

    if find_bindir() is None:
        print("== PostgreSQL: binaries not installed, skipped")
        return None
    server = PostgresServer().start()
    try:
        from sqlalchemy import text

        admin = db.make_engine(server.url("postgres"))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE DATABASE bench"))
        admin.dispose()
        engine = db.get_engine(server.url("bench"))
        db.upgrade(engine)
        t = time.perf_counter()
        fill(engine, args.runs)
        info = extras(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"== PostgreSQL: fill {args.runs:,} runs (COPY) + extras: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        n = refresh(engine)
        print(f"rollup refresh (first page view after the bulk load): {n:,} runs in {time.perf_counter() - t:.1f} s")
        aggregations(engine, args.repeat, info)
        url = server.url("bench")
        page(url, 7)  # warm-up, as on SQLite
        pg_all = min(page(url, 31) for _ in range(2))
        pg_ms = min(page(url, 7) for _ in range(2))
        print(f"page overview all 30 days (PostgreSQL): {pg_all:.0f} ms; default (last 7 days): {pg_ms:.0f} ms")
        engine.dispose()
        return pg_ms
    finally:
        db.dispose_engines()
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--db", help="SQLite file to use (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="keep the file if it already has --runs runs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", action="store_true", help="also run on a throwaway PostgreSQL server")
    args = ap.parse_args()
    default_ms, all_ms = run_sqlite(args)
    pg_ms = run_pg(args) if args.pg else None
    print(f"metrics_page_ms_all_30_days={all_ms:.0f}")
    if pg_ms is not None:
        print(f"metrics_page_pg_ms={pg_ms:.0f}")
    print(f"metrics_page_ms={default_ms:.0f}")


if __name__ == "__main__":
    main()
