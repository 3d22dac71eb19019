"""Preflight: what a batch will cost before it runs.

calls = rows x versions x models x repeats; input tokens are estimated by rendering a sample
of rows (evenly spread) with each version; output tokens come from `max_tokens` when set,
else from the model's recent runs, else an assumed default (said so); cost from the price
table (an unknown price is reported as unknown, never 0); wall time from the concurrency,
the model's recent latency and the rpm / tpm limits.  Every number here is an estimate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from lib.client import cost_usd, load_config, price_for, split_model_ref
from lib.db import get_engine
from lib.errors import NotFoundError, WorkbenchError
from lib.models import Dataset, DatasetRow, PromptVersion, Run
from lib.prompts import count_messages, render

from .jobs import complete_mapping
from .runner import row_values

DEFAULT_OUTPUT_TOKENS = 256
DEFAULT_LATENCY_MS = 2000.0
SAMPLE = 200


def _sample_rows(session: Session, dataset_id: int, n_rows: int, sample: int) -> list[dict]:
    if n_rows <= sample:
        idxs = None
    else:
        step = n_rows / sample
        idxs = sorted({int(i * step) + 1 for i in range(sample)})
    q = select(DatasetRow.data).where(DatasetRow.dataset_id == dataset_id)
    if idxs is not None:
        q = q.where(DatasetRow.idx.in_(idxs))
    return [d or {} for d in session.execute(q.order_by(DatasetRow.idx).limit(sample)).scalars()]


def _history(session: Session, endpoint: str, model: str) -> tuple[float | None, float | None]:
    """Mean completion tokens and latency of the model's last 200 ok runs."""
    sub = (select(Run.completion_tokens, Run.latency_ms).where(Run.endpoint == endpoint, Run.model == model,
                                                               Run.status == "ok")
           .order_by(Run.id.desc()).limit(200).subquery())
    ct, lat = session.execute(select(func.avg(sub.c.completion_tokens), func.avg(sub.c.latency_ms))).one()
    return (float(ct) if ct is not None else None), (float(lat) if lat is not None else None)


def output_tokens_per_call(session: Session, endpoint: str, model: str, max_tokens: int | None) -> float:
    """Output tokens to expect from one call: max_tokens when set (an upper bound), else the mean of
    the model's recent runs, else DEFAULT_OUTPUT_TOKENS."""
    if max_tokens:
        return float(max_tokens)
    hist_ct, _lat = _history(session, endpoint, model)
    return hist_ct if hist_ct is not None else float(DEFAULT_OUTPUT_TOKENS)


def preflight(*, session: Session, dataset_id: int, version_ids: list[int], models: list[str],
              mapping: dict | None = None, repeats: int = 1, concurrency: int = 8, rpm: int | None = None,
              tpm: int | None = None, params: dict | None = None, sample: int = SAMPLE) -> dict[str, Any]:
    """Calls, tokens, cost per model and in total, and estimated wall time (see the module docstring)."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError(f"unknown dataset id {dataset_id}")
    versions = [session.get(PromptVersion, v) for v in version_ids]
    if any(v is None for v in versions):
        raise NotFoundError("unknown prompt version in preflight")
    mapping = complete_mapping(session=session, dataset=dataset, version_ids=version_ids, mapping=mapping)
    n_rows = int(session.execute(select(func.count()).select_from(DatasetRow)
                                 .where(DatasetRow.dataset_id == dataset_id)).scalar() or 0)
    rows = _sample_rows(session, dataset_id, n_rows, sample)
    per_version: dict[int, float] = {}
    failures = 0
    for v in versions:
        counts = []
        for data in rows:
            try:
                counts.append(count_messages(render(v, row_values(data, mapping))))
            except WorkbenchError:
                failures += 1
        per_version[v.id] = (sum(counts) / len(counts)) if counts else 0.0
    in_per_row = sum(per_version.values())  # all versions of one row
    engine = session.get_bind()
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    total_cost: float | None = 0.0
    for ref in models:
        ep_name, model = split_model_ref(ref)
        try:
            cfg = load_config(session=session, name=ep_name)
        except NotFoundError as exc:
            notes.append(str(exc))
            cfg = None
        calls = n_rows * len(versions) * repeats
        in_tok = in_per_row * n_rows * repeats
        hist_ct, hist_lat = _history(session, ep_name, model)
        max_tok = (params or {}).get("max_tokens") or next(
            (v.params.get("max_tokens") for v in versions if (v.params or {}).get("max_tokens")), None)
        if cfg is not None and cfg.kind == "echo":
            out_per_call, out_source = in_per_row / max(len(versions), 1), "echo repeats its input"
        elif max_tok:
            out_per_call, out_source = float(max_tok), "max_tokens (upper bound)"
        elif hist_ct is not None:
            out_per_call, out_source = hist_ct, "mean of recent runs"
        else:
            out_per_call, out_source = float(DEFAULT_OUTPUT_TOKENS), f"assumed {DEFAULT_OUTPUT_TOKENS} per call"
        out_tok = out_per_call * calls
        price = price_for(cfg, model, engine if engine is not None else get_engine()) if cfg else None
        cost = cost_usd(price, int(in_tok), int(out_tok)) if price else None
        if cost is None:
            total_cost = None
            notes.append(f"{ref}: price unknown, so its cost (and the total) is unknown")
        elif total_cost is not None:
            total_cost += cost
        lat_ms = hist_lat or (float((cfg.options or {}).get("latency_ms", 5)) if cfg and cfg.kind == "echo"
                              else DEFAULT_LATENCY_MS)
        conc = min(concurrency, cfg.max_concurrency if cfg else concurrency)
        rate = conc / max(lat_ms / 1000.0, 0.001)
        limits = [r for r in (rpm, cfg.rpm if cfg else None) if r]
        if limits:
            rate = min(rate, min(limits) / 60.0)
        tlimits = [t for t in (tpm, cfg.tpm if cfg else None) if t]
        if tlimits and calls:
            rate = min(rate, min(tlimits) / 60.0 / max((in_tok + out_tok) / calls, 1.0))
        out.append({"model": ref, "calls": calls, "input_tokens": int(in_tok), "output_tokens": int(out_tok),
                    "output_tokens_source": out_source, "cost_usd": cost, "price_known": cost is not None,
                    "latency_ms": round(lat_ms, 1), "calls_per_s": round(rate, 2),
                    "wall_s": round(calls / rate, 1) if rate else None})
    total_calls = sum(m["calls"] for m in out)
    # The job's concurrency is shared by every model: the slowest bound wins.
    wall = max(((m["wall_s"] or 0.0) for m in out), default=0.0)
    if len(out) > 1 and total_calls:
        mean_lat = sum(m["latency_ms"] * m["calls"] for m in out) / total_calls
        wall = max(wall, total_calls / (concurrency / max(mean_lat / 1000.0, 0.001)))
    if failures:
        notes.append(f"{failures} sampled row x version renders failed (missing variables?): see the lint")
    return {"rows": n_rows, "versions": len(versions), "models": len(models), "repeats": repeats,
            "calls": total_calls, "input_tokens": sum(m["input_tokens"] for m in out),
            "output_tokens": sum(m["output_tokens"] for m in out), "cost_usd": total_cost,
            "cost_known": total_cost is not None, "wall_s": round(wall, 1), "per_model": out,
            "mapping": mapping, "notes": notes, "estimate": True}
