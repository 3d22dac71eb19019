"""Provider batch mode: run a job through a provider's Batch API (OpenAI-compatible Batch API, or
Anthropic Message Batches behind the same calls) instead of live calls.

Per model of the job: the pending items are rendered into a JSONL file (one request per line,
``custom_id = "item-<BatchItem.id>"``), uploaded with ``POST /v1/files`` (purpose ``batch``),
and submitted with ``POST /v1/batches``; the items are leased to ``provider:<batch id>`` so no
live worker takes them.  Polling (``GET /v1/batches/{id}``) continues until the batch ends;
then the output and error files are downloaded and merged by ``custom_id`` into the same Run,
Score and BatchItem rows a live run writes (`batch_store.persist`), so results, scores and
charts do not care how the job ran.  A failed, expired or cancelled batch puts its items back
to pending with the reason on the job.  Costs use the list price (an upper bound: providers
usually bill batches at a discount).  The key is read at call time, never stored.

Budget: before a submission each request's cost is estimated (prompt tokens counted, output
tokens from max_tokens or recent runs); only the requests that fit in what is left of the budget
(minus the estimates of batches still open) are sent, the rest stay pending.  Spend is counted
when results are merged; once nothing fits and no batch is open, the job pauses on its budget.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from lib.client import cost_usd, get_client, load_config, price_for, provider_class, split_model_ref
from lib.db import session_scope
from lib.errors import BudgetExceededError, ProviderError, ValidationError, WorkbenchError
from lib.evals import coerce
from lib.models import BatchItem, BatchJob, utcnow
from lib.prompts import count_messages, merge_params, render
from lib.runs import RunResult, storable

from . import store
from .answers import run_dict, score_answer
from .owners import is_dead_local, new_owner
from .planning import output_tokens_per_call
from .runner import row_values

ENDPOINT_PATH = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")
LEASE = timedelta(days=2)  # a submitted batch owns its items until merged (completion window is 24 h)
UPLOAD_LEASE = timedelta(minutes=10)  # while the file is uploaded and the batch created


def poll_seconds() -> float:
    """Seconds between status polls (env WORKBENCH_PROVIDER_POLL_S, default 30)."""
    try:
        return max(0.05, float(os.environ.get("WORKBENCH_PROVIDER_POLL_S", "30")))
    except ValueError:
        return 30.0


def _require_batch_api(cfg) -> None:
    if not provider_class(cfg.kind).has_batch_api:
        raise ValidationError(f"endpoint {cfg.name!r} ({cfg.kind}) has no Batch API (OpenAI-compatible or "
                              "Anthropic Message Batches); run the job live instead")


async def _api(engine: Engine, ep_name: str, fn) -> Any:
    """One Batch API request through the model client: its provider (the key read per request, never
    stored), the endpoint's limiter and the retry policy; a provider error text is scrubbed of the key."""
    return await get_client(engine).provider_request(ep_name, fn)


def _load(engine: Engine, job_id: int):
    job, versions, names = store.load_job(engine, job_id)
    return job, versions, names


def _is_open(info: dict) -> bool:
    if info.get("status") == "submitting":
        return True
    return "batch_id" in info and info.get("status") not in ("merged", "failed", "expired", "cancelled")


def _estimates(engine: Engine, cfg, model: str, bodies: list[dict]) -> list[float | None]:
    """Estimated cost of each request (None when the price is unknown)."""
    price = price_for(cfg, model, engine)
    out, cache = [], {}
    with session_scope(engine) as s:
        for body in bodies:
            max_tok = body.get("max_tokens") or body.get("max_completion_tokens")
            if max_tok not in cache:
                cache[max_tok] = output_tokens_per_call(s, cfg.name, model, max_tok)
            out.append(cost_usd(price, count_messages(body["messages"]), int(cache[max_tok])))
    return out


async def submit(engine: Engine, job_id: int) -> dict[str, Any]:
    """Upload and create one provider batch per model of the job's pending items, within the job's
    budget (see the module docstring); returns job.provider_batch."""
    job, versions, _names = _load(engine, job_id)
    state = dict(job.provider_batch or {})
    left = None if job.budget_usd is None else (job.budget_usd - (job.spent_usd or 0.0) - sum(
        i.get("estimate_usd") or 0.0 for i in state.values() if _is_open(i)))
    held: list[float | None] = []  # estimate of the first request the budget held back, per model
    owner = f"provider:pending:{job_id}"
    for ref in job.models:
        if state.get(ref, {}).get("status") == "submitting" and _submitter_gone(state[ref]):
            await _recover(engine, job_id, ref, state)  # a process died while it created this batch
        if state.get(ref, {}).get("status") not in (None, "merged", "failed", "expired", "cancelled"):
            continue  # a batch for this model is still open (or being created by a live process)
        ep_name, model = split_model_ref(ref)
        with session_scope(engine) as s:
            cfg = load_config(session=s, name=ep_name)
        _require_batch_api(cfg)  # refuses an endpoint without a Batch API before any item is leased
        with engine.begin() as conn:
            # items of an upload that died half-way (killed before it said it was creating a batch) come back
            conn.execute(update(BatchItem).where(BatchItem.job_id == job_id, BatchItem.model == ref,
                                                 BatchItem.state == "running", BatchItem.lease_owner == owner,
                                                 BatchItem.lease_expires < utcnow())
                         .values(state="pending", lease_owner=None, lease_expires=None,
                                 attempts=BatchItem.attempts - 1))
            items = conn.execute(update(BatchItem).where(BatchItem.job_id == job_id, BatchItem.model == ref,
                                                         BatchItem.state == "pending")
                                 .values(state="running", lease_owner=owner, lease_expires=utcnow() + UPLOAD_LEASE,
                                         attempts=BatchItem.attempts + 1, updated_at=utcnow())
                                 .returning(BatchItem.id, BatchItem.row_id, BatchItem.version_id)).all()
        if not items:
            continue
        rows = store.load_rows(engine, list({i[1] for i in items}))
        requests, errors = [], []
        for item_id, row_id, vid in items:
            version = versions[vid]
            try:
                messages = render(version, row_values(rows[row_id][0], job.mapping or {}))
            except WorkbenchError as exc:
                errors.append(store.Finished(item_id, "error", error=str(exc)))
                continue
            requests.append((item_id, {"model": model, "messages": storable(messages),  # sent = stored
                                       **merge_params(version, ref, job.params)}))
        if errors:
            store.persist(engine, job_id, owner, errors)
        estimate = 0.0
        if left is not None and requests:  # send only what fits in the budget; the rest stays pending
            fits = 0
            for est in _estimates(engine, cfg, model, [b for _i, b in requests]):
                if est is None or estimate + est > left + 1e-12:
                    held.append(est)
                    break
                estimate += est
                fits += 1
            store.release(engine, owner, [i for i, _b in requests[fits:]])
            requests = requests[:fits]
            left -= estimate
        lines = [json.dumps({"custom_id": f"item-{item_id}", "method": "POST", "url": ENDPOINT_PATH, "body": body},
                            ensure_ascii=False) for item_id, body in requests]
        if not lines:
            continue
        payload = "\n".join(lines).encode()
        token = f"{job_id}-{uuid.uuid4().hex}"  # finds the batch again if the answer to its creation is lost
        meta = {"workbench_job": str(job_id), "model": ref, "workbench_submission": token}
        info = {"items": len(lines), **({"estimate_usd": round(estimate, 6)} if left is not None else {})}
        try:
            f = await _api(engine, ep_name, lambda p, data=payload: p.upload_file(f"job-{job_id}.jsonl", data))
            # said before the batch exists: a process killed from here on is recovered by _recover(), not resubmitted
            state[ref] = {**info, "status": "submitting", "submission": token, "submitter": new_owner(),
                          "since": utcnow().isoformat(), "input_file_id": f["id"]}
            _put(engine, job_id, {ref: state[ref]})
            b = await _api(engine, ep_name, lambda p, fid=f["id"], m=meta: p.create_batch(fid, ENDPOINT_PATH, m))
        except ProviderError as exc:
            store.release(engine, owner, [i[0] for i in items])
            state.pop(ref, None)
            _put(engine, job_id, {ref: None})
            raise ProviderError(f"{ep_name}: could not submit the batch: {exc}") from None
        state[ref] = {**info, "batch_id": b["id"], "input_file_id": f["id"], "status": b.get("status", "validating")}
        _adopt(engine, job_id, ref, b["id"], state)
    if held and not any(_is_open(i) for i in state.values()):  # nothing open will free budget estimates
        known = [e for e in held if e is not None]
        nxt = f"${min(known):.4f}" if known else "unknown (no price)"
        raise BudgetExceededError(f"budget reached: spent ${job.spent_usd or 0.0:.4f} of ${job.budget_usd:.4f}; "
                                  f"the next request is estimated at {nxt}; resume with a higher budget")
    return state


def _put(engine: Engine, job_id: int, changes: dict[str, dict | None], conn: Any = None) -> None:
    """Write these models' entries of job.provider_batch (None removes one) and leave the others as the
    database has them: another process stepping the same job (the app's worker and a `batch run`) may
    have written them since this one read the job, and a whole-copy write would erase its batch id."""
    if conn is None:
        with engine.begin() as c:
            return _put(engine, job_id, changes, c)
    current = conn.execute(select(BatchJob.provider_batch).where(BatchJob.id == job_id).with_for_update()).scalar()
    state = dict(current or {})
    for ref, info in changes.items():
        if info is None:
            state.pop(ref, None)
        else:
            state[ref] = info
    conn.execute(update(BatchJob).where(BatchJob.id == job_id).values(provider_batch=state, updated_at=utcnow()))
    return None


def _adopt(engine: Engine, job_id: int, ref: str, batch_id: str, state: dict) -> None:
    """The model's items being submitted now belong to provider batch `batch_id`, and the job says so,
    in one transaction (a process killed in between leaves neither half)."""
    with engine.begin() as conn:
        conn.execute(update(BatchItem).where(BatchItem.job_id == job_id, BatchItem.model == ref,
                                             BatchItem.state == "running",
                                             BatchItem.lease_owner == f"provider:pending:{job_id}")
                     .values(lease_owner=f"provider:{batch_id}", lease_expires=utcnow() + LEASE))
        _put(engine, job_id, {ref: state[ref]}, conn)


def _submitter_gone(info: dict) -> bool:
    """True when the process that was creating this batch is dead (on this host) or past the upload lease."""
    if is_dead_local(info.get("submitter")):
        return True
    try:
        since = datetime.fromisoformat(str(info.get("since")))
    except ValueError:
        return True
    return utcnow() - since > UPLOAD_LEASE


async def _recover(engine: Engine, job_id: int, ref: str, state: dict) -> None:
    """A process died while it created the model's batch: if the provider has it (found by the
    submission token in its metadata, or for Anthropic by its results' custom_ids), adopt it, so it
    is polled and merged, never paid twice; if not, the creation never happened: its items go back
    to pending."""
    info = state[ref]
    ep_name, _model = split_model_ref(ref)
    with engine.connect() as conn:
        ids = conn.execute(select(BatchItem.id).where(
            BatchItem.job_id == job_id, BatchItem.model == ref, BatchItem.state == "running",
            BatchItem.lease_owner == f"provider:pending:{job_id}")).scalars().all()
    try:
        since = datetime.fromisoformat(str(info.get("since")))
    except ValueError:
        since = None
    found = await _api(engine, ep_name, lambda p, t=info["submission"]: p.find_batch(
        "workbench_submission", t, since=since, custom_ids={f"item-{i}" for i in ids}))
    if found == "unknown":
        return  # a batch that may be ours is still running (Anthropic): look again on the next round
    rest = {k: v for k, v in info.items() if k not in ("submission", "submitter", "since", "status")}
    if found is not None:
        state[ref] = {**rest, "batch_id": found["id"], "status": found.get("status", "validating"),
                      "recovered": True}
        _adopt(engine, job_id, ref, found["id"], state)
        return
    with engine.begin() as conn:
        conn.execute(update(BatchItem).where(BatchItem.job_id == job_id, BatchItem.model == ref,
                                             BatchItem.state == "running",
                                             BatchItem.lease_owner == f"provider:pending:{job_id}")
                     .values(state="pending", lease_owner=None, lease_expires=None,
                             attempts=BatchItem.attempts - 1, updated_at=utcnow()))
    state.pop(ref)
    _put(engine, job_id, {ref: None})


def _result(line: dict, ref: str) -> RunResult:
    """A result line of the output or error file as the call's result (the same fields a live call gives)."""
    ep_name, model = split_model_ref(ref)
    resp = line.get("response") or {}
    body = resp.get("body") or {}
    status_code = resp.get("status_code")
    err = line.get("error")
    choice = (body.get("choices") or [{}])[0] if isinstance(body, dict) else {}
    usage = body.get("usage") if isinstance(body, dict) else None
    ok = not err and status_code == 200 and bool(choice)
    message = None
    if not ok:
        e = err or (body.get("error") if isinstance(body, dict) else None) or {}
        message = (e.get("message") if isinstance(e, dict) else str(e)) or f"HTTP {status_code}"
    reply = (choice.get("message") or {}) if ok else {}
    calls = [c for c in reply.get("tool_calls") or [] if isinstance(c, dict)] or None  # OpenAI shape, as live
    return RunResult(
        endpoint=ep_name, model=model, text=reply.get("content") or "", tool_calls=calls,
        finish_reason=choice.get("finish_reason") if ok else None, status="ok" if ok else "error",
        error_kind=None if ok else ("bad_request" if status_code and status_code < 500 else "server"),
        error_message=message, http_status=status_code, request_id=resp.get("request_id"),
        prompt_tokens=(usage or {}).get("prompt_tokens"), completion_tokens=(usage or {}).get("completion_tokens"),
        usage_raw=usage, cost_usd=None, attempts=1)


async def _merge(engine: Engine, line: dict, item_id: int, *, job, version, prompt_name, data: dict, asserts: list,
                 specs: list, ref: str, price) -> store.Finished:
    """One result line as a Finished item: its Run row and its scores from the same code a live item uses
    (`answers.run_dict`, `answers.score_answer`), so both modes store the same rows for the same reply."""
    values = row_values(data, job.mapping or {})
    params = merge_params(version, ref, job.params)
    result = _result(line, ref)
    run = run_dict(result, job_id=job.id, version=version, prompt_name=prompt_name, values=values, item_model=ref,
                   messages=render(version, values), params=params, actor=job.created_by)
    cost = run["cost_usd"] = cost_usd(price, run["prompt_tokens"], run["completion_tokens"])
    if result.status != "ok":
        return store.Finished(item_id, "error", run=run, error=result.error_message, cost_usd=cost)
    scores, passed, score = await score_answer(
        specs, result.text, row=data, asserts=asserts, job_id=job.id, client=get_client(engine),
        judge_model=job.judge_model, on_behalf_of=job.created_by or None, tool_calls=result.tool_calls,
        params=params)
    return store.Finished(item_id, "done", run=run, scores=scores, passed=passed, score=score, cost_usd=cost)


async def poll(engine: Engine, job_id: int) -> dict[str, Any]:
    """Check every open provider batch of the job once; merge finished ones; returns job.provider_batch."""
    job, versions, names = _load(engine, job_id)
    state = dict(job.provider_batch or {})
    specs = [coerce(e) for e in job.evaluators or []]
    touched: list[str] = []
    for ref, info in state.items():
        if info.get("status") in ("merged",) or "batch_id" not in info:
            continue
        ep_name, model = split_model_ref(ref)
        with session_scope(engine) as s:
            cfg = load_config(session=s, name=ep_name)
        owner = f"provider:{info['batch_id']}"
        b = await _api(engine, ep_name, lambda p, bid=info["batch_id"]: p.get_batch(bid))
        touched.append(ref)
        info["status"] = b.get("status", info.get("status"))
        info["counts"] = b.get("request_counts")
        if info["status"] not in TERMINAL:
            continue
        lines: list[dict] = []
        for key in ("output_file_id", "error_file_id"):
            if b.get(key):
                text = await _api(engine, ep_name, lambda p, fid=b[key]: p.file_content(fid))
                lines += [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        with engine.connect() as conn:
            leased = dict(conn.execute(select(BatchItem.id, BatchItem.row_id).where(
                BatchItem.job_id == job_id, BatchItem.lease_owner == owner)).all())
            vids = dict(conn.execute(select(BatchItem.id, BatchItem.version_id).where(
                BatchItem.job_id == job_id, BatchItem.lease_owner == owner)).all())
        rows = store.load_rows(engine, list(set(leased.values())))
        price = price_for(cfg, model, engine)
        results, seen = [], set()
        for line in lines:
            cid = str(line.get("custom_id", ""))
            item_id = int(cid[5:]) if cid.startswith("item-") and cid[5:].isdigit() else None
            if item_id is None or item_id not in leased or item_id in seen:
                continue  # unknown or repeated custom_id: never merged twice
            seen.add(item_id)
            data, asserts = rows.get(leased[item_id], ({}, []))
            version = versions[vids[item_id]]
            results.append(await _merge(engine, line, item_id, job=job, version=version,
                                        prompt_name=names.get(version.id), data=data, asserts=asserts, specs=specs,
                                        ref=ref, price=price))
        for i in range(0, len(results), 500):
            store.persist(engine, job_id, owner, results[i:i + 500])
        missing = [i for i in leased if i not in seen]
        if missing:  # the provider returned nothing for them (failed/expired batch): back to pending
            store.release(engine, owner, missing)
        info["status"] = "merged" if info["status"] == "completed" else info["status"]
        info["merged"] = len(results)
    if touched:
        _put(engine, job_id, {ref: state[ref] for ref in touched})
    return state


async def step(engine: Engine, job_id: int) -> str:
    """One round for a provider-mode job: submit what is pending, poll what is open; returns the job status."""
    st = store.job_state(engine, job_id)["status"]
    if st not in ("pending", "running"):
        return st
    if st == "pending":
        store.set_job(engine, job_id, status="running", only_if=("pending",))
    problem = store.starter_problem(engine, job_id)  # a demoted starter: submit nothing new, still merge
    try:
        if problem is None:
            await submit(engine, job_id)
        state = await poll(engine, job_id)
    except WorkbenchError as exc:
        reason = f"provider batch: {exc}"
        store.set_job(engine, job_id, status="paused", reason=reason, only_if=("running",))
        return "paused"
    failed = [f"{m}: {i['status']}" for m, i in state.items() if i.get("status") in ("failed", "expired", "cancelled")]
    pending, running = store.open_counts(engine, job_id)
    if failed and pending:
        store.set_job(engine, job_id, status="paused", reason="provider batch ended early (" + ", ".join(failed)
                      + "); resume to submit the remaining items again", only_if=("running",))
        ended = {}
        for ref, info in state.items():
            if info.get("status") in ("failed", "expired", "cancelled"):
                ended[ref] = {**info, "status": "merged"}
        _put(engine, job_id, ended)
        return "paused"
    if problem and pending and not running:  # what was paid for is merged; nothing new goes out
        store.set_job(engine, job_id, status="paused", reason=problem, only_if=("running",))
        return "paused"
    if pending == 0 and running == 0:
        store.set_job(engine, job_id, status="done", only_if=("running",))
        return "done"
    return "running"


async def run_to_end(engine: Engine, job_id: int, *, on_persist=None, poll_s: float | None = None,
                     max_wait_s: float = 7 * 24 * 3600) -> str:
    """Submit and poll until the job is no longer running (CLI foreground)."""
    poll_s = poll_s or poll_seconds()
    loop = asyncio.get_running_loop()
    end = loop.time() + max_wait_s
    status = "running"
    while loop.time() < end:
        status = await step(engine, job_id)
        if status not in ("pending", "running"):
            return status
        await asyncio.sleep(poll_s)
    return status
