"""Bulk fill of synthetic runs for the metrics benchmark (executemany on a raw DB-API connection)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.engine import Engine

MODELS = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku", "anthropic/claude-sonnet-4",
          "local/llama-3-8b", "echo/echo"]  # endpoint/model
SOURCES = ["playground", "compare", "batch", "cli", "api"]
ERROR_KINDS = ["rate_limited", "timeout", "server", "bad_request", "auth"]
RUN_COLS = ("created_at", "source", "prompt_id", "version_id", "prompt_name", "version_number", "endpoint", "model",
            "params", "variables", "messages", "output", "status", "error_kind", "http_status", "prompt_tokens",
            "completion_tokens", "usage_estimated", "cost_usd", "latency_ms", "ttft_ms", "attempts", "cache_hit",
            "rating", "batch_job_id")


def _ph(engine: Engine) -> str:
    return "?" if engine.dialect.name == "sqlite" else "%s"


def _insert(engine: Engine, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
    """executemany on the raw connection (SQLite); COPY on PostgreSQL (psycopg 3)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            ph = _ph(engine)
            cur.executemany(f'INSERT INTO {table} ({", ".join(cols)}) VALUES ({", ".join([ph] * len(cols))})', rows)
        else:
            with cur.copy(f'COPY {table} ({", ".join(cols)}) FROM STDIN') as cp:
                for r in rows:
                    cp.write_row(r)
        raw.commit()
    finally:
        raw.close()


def extras(engine: Engine, n_votes: int = 500, cases: int = 1000, seed: int = 7) -> dict:
    """Scores for every batch run, human arena votes, and a dataset both of two versions ran on (versus)."""
    rng = np.random.default_rng(seed)
    now = _ts(engine, datetime.now(UTC))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO score (run_id, evaluator, passed, score, created_at) "
            "SELECT id, 'judge', mod(id, 5) <> 0, mod(id, 10) / 10.0, created_at FROM run "
            "WHERE source = 'batch' AND status = 'ok'")
        n_scores = conn.exec_driver_sql("SELECT count(*) FROM score").scalar()
        ids = [r[0] for r in conn.exec_driver_sql(
            "SELECT id FROM run WHERE source = 'compare' AND status = 'ok' ORDER BY id DESC LIMIT 2000")]
    pairs = rng.choice(ids, size=(n_votes, 2)) if len(ids) >= 2 else np.zeros((0, 2), dtype=int)
    _insert(engine, "arenavote", ("run_a_id", "run_b_id", "winner", "blind", "created_at"),
            [(int(a), int(b), str(rng.choice(["a", "b", "tie"], p=[0.45, 0.4, 0.15])), True, now)
             for a, b in pairs if a != b])
    _insert(engine, "dataset", ("name", "format", "filename", "columns", "row_count", "content_hash", "encoding",
                                "warnings", "created_at"),
            [("bench-qa", "csv", "qa.csv", '["q"]', cases, "bench", "utf-8", "[]", now)])
    with engine.connect() as conn:
        ds = conn.exec_driver_sql("SELECT id FROM dataset WHERE name = 'bench-qa'").scalar()
        v1, v2 = [r[0] for r in conn.exec_driver_sql("SELECT id FROM promptversion ORDER BY id LIMIT 2")]
        runs = [r[0] for r in conn.exec_driver_sql(
            f"SELECT id FROM run WHERE source = 'batch' AND status = 'ok' ORDER BY id LIMIT {2 * cases}")]
    _insert(engine, "datasetrow", ("dataset_id", "idx", "data", "asserts", "meta"),
            [(ds, i + 1, json.dumps({"q": f"question {i + 1}"}), "[]", "{}") for i in range(cases)])
    _insert(engine, "batchjob", ("name", "dataset_id", "version_ids", "models", "mapping", "evaluators", "params",
                                 "repeats", "concurrency", "spent_usd", "mode", "provider_batch", "status",
                                 "total_items", "created_at", "updated_at"),
            [("bench", ds, json.dumps([v1, v2]), '["openai/gpt-4o"]', "{}", "[]", "{}", 1, 8, 0.0, "live", "{}",
              "done", 2 * cases, now, now)])
    with engine.connect() as conn:
        job = conn.exec_driver_sql("SELECT max(id) FROM batchjob").scalar()
        rows = [r[0] for r in conn.exec_driver_sql(f"SELECT id FROM datasetrow WHERE dataset_id = {ds} ORDER BY idx")]
    items = []
    for side, v in enumerate((v1, v2)):
        for i, row in enumerate(rows):
            sc = float(np.clip(rng.normal(0.6 + 0.05 * side, 0.2), 0, 1))
            items.append((job, row, i + 1, v, "openai/gpt-4o", 0, "done", 1, runs[side * cases + i], sc >= 0.5, sc,
                          now))
    _insert(engine, "batchitem", ("job_id", "row_id", "row_idx", "version_id", "model", "repeat", "state",
                                  "attempts", "run_id", "passed", "score", "updated_at"), items)
    return {"scores": n_scores, "votes": len(pairs), "dataset_id": ds, "versions": (v1, v2)}


def _ts(engine: Engine, dt: datetime):
    # SQLite stores UTC text; PostgreSQL takes the aware datetime.
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else dt


def _sessions(rng: np.random.Generator, n_runs: int, span: float, n_versions: int) -> dict:
    """Runs come in sessions, as in real use: batch jobs (thousands of runs of one version x model within
    half an hour), interactive sessions (playground/compare/cli: 5-40 runs in ten minutes) and steady api
    traffic; 40% / 45% / 15% of runs.  Returns per-run arrays sorted by time (offset = seconds ago)."""
    parts = []
    for share, lo, hi, dur, srcs in ((0.40, 500, 4000, 1800.0, [2]), (0.45, 5, 40, 600.0, [0, 1, 3]),
                                     (0.15, 200, 800, 3600.0, [4])):
        want, got = int(n_runs * share), 0
        while got < want:
            k = int(min(rng.integers(lo, hi + 1), want - got))
            start = rng.uniform(dur, span)
            parts.append((start - rng.uniform(0, dur, k), np.full(k, rng.integers(0, n_versions)),
                          np.full(k, rng.integers(0, len(MODELS))), np.full(k, rng.choice(srcs))))
            got += k
    off, ver, mod, src = (np.concatenate(x) for x in zip(*parts, strict=True))
    pad = n_runs - len(off)
    if pad > 0:
        off, ver, mod, src = (np.concatenate([a, a[:pad]]) for a in (off, ver, mod, src))
    order = np.argsort(-off, kind="stable")[:n_runs]
    return {"offset": off[order], "version": ver[order], "model": mod[order], "source": src[order]}


def fill(engine: Engine, n_runs: int, days: int = 30, seed: int = 7, chunk: int = 100_000) -> dict:
    """Insert prompts, versions and `n_runs` runs spread over the last `days` days; returns id maps."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    prompts = [f"prompt-{i}" for i in range(5)]
    _insert(engine, "prompt", ("name", "description", "tags", "archived", "created_at", "updated_at"),
            [(p, "", "[]", False, _ts(engine, now), _ts(engine, now)) for p in prompts])
    with engine.connect() as conn:
        pids = dict(conn.exec_driver_sql("SELECT name, id FROM prompt").fetchall())
    vrows = [(pids[p], n, json.dumps([{"role": "user", "content": f"{p} v{n} {{{{q}}}}"}]), "mustache", "[]",
              None, "{}", "{}", "", "", f"h{p}{n}", _ts(engine, now)) for p in prompts for n in range(1, 5)]
    _insert(engine, "promptversion", ("prompt_id", "number", "messages", "template_format", "variables", "model",
                                      "params", "model_overrides", "commit_message", "author", "content_hash",
                                      "created_at"), vrows)
    with engine.connect() as conn:
        vers = conn.exec_driver_sql(
            "SELECT v.id, v.prompt_id, p.name, v.number FROM promptversion v JOIN prompt p ON p.id = v.prompt_id"
        ).fetchall()
    sqlite = engine.dialect.name == "sqlite"
    sess = _sessions(rng, n_runs, days * 86400.0, len(vers))
    done = 0
    while done < n_runs:  # in time order, as runs are really written
        n = min(chunk, n_runs - done)
        sl = slice(done, done + n)
        offs, vi, mi, si = sess["offset"][sl], sess["version"][sl], sess["model"][sl], sess["source"][sl]
        err = rng.random(n) < 0.03
        ek = rng.integers(0, len(ERROR_KINDS), n)
        lat = np.exp(rng.normal(6.5, 0.6, n)) * (1 + 0.5 * (mi % 3))
        ttft = lat * rng.uniform(0.1, 0.4, n)
        pt = rng.integers(50, 2000, n)
        ct = rng.integers(10, 800, n)
        cost = (pt * 0.15 + ct * 0.6) * (1 + mi) / 1e6
        unknown = mi == len(MODELS) - 2  # a local model without a price
        att = 1 + (rng.random(n) < 0.04) + (rng.random(n) < 0.01)
        cache = rng.random(n) < 0.05
        rated = rng.random(n) < 0.02
        rows = []
        for j in range(n):
            v = vers[vi[j]]
            model = MODELS[mi[j]]
            e = bool(err[j])
            kind = ERROR_KINDS[ek[j]] if e else None
            created = now - timedelta(seconds=float(offs[j]))
            rows.append((
                created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created,
                SOURCES[si[j]], v[1], v[0], v[2], v[3], model.split("/")[0], model.split("/")[1], "{}", "{}", "[]",
                "", "error" if e else "ok", kind, (429 if kind == "rate_limited" else 500 if e else 200),
                None if e else int(pt[j]), None if e else int(ct[j]), False,
                None if (e or unknown[j]) else float(cost[j]), float(lat[j]), None if e else float(ttft[j]),
                int(att[j]), bool(cache[j]), (1 if j % 3 else -1) if rated[j] else None, None))
        _insert(engine, "run", RUN_COLS, rows)
        done += n
    return {"prompts": pids, "versions": vers}
