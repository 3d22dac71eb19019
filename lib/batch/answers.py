"""A batch item's answer: its Run row (from the one builder) and its scores (the job's evaluators plus
the row's own asserts, each once by label).  Both modes use these: the live runner and the provider-batch
merge, so the same reply stores the same Run row and scores however the job ran."""

from __future__ import annotations

import logging
from typing import Any

from lib.evals import ASYNC_TYPES, EvalResult, check, evaluate, specs_for_row, summarise
from lib.identity import WORKER
from lib.prompts import response_schema
from lib.runs import RunResult, run_row, spec_for_version

log = logging.getLogger(__name__)


def run_dict(res: Any, *, job_id: int, version: Any, prompt_name: str | None, values: dict,
             item_model: str = "", messages: list[dict] | None = None, params: dict | None = None,
             actor: str = "") -> dict:
    """The Run row of a batch item's result: the client's row, or (a stand-in caller's result without
    one) the same row from the one builder, `lib.runs.run_row`; `actor` is who started the job."""
    row = getattr(res, "row", None)  # the client's plain dict of the Run's columns (cheap)
    if row is not None:
        d = dict(row)
        d.pop("id", None)
        return d
    endpoint, _, model = item_model.partition("/")
    spec = spec_for_version(version, prompt_name=prompt_name, endpoint=getattr(res, "endpoint", "") or endpoint,
                            model=getattr(res, "model", "") or model, messages=messages or [], params=params or {},
                            variables=values, source="batch", batch_job_id=job_id)
    spec.actor = actor or WORKER.label
    if not isinstance(res, RunResult):
        res = RunResult.model_validate(res, from_attributes=True)
    return run_row(spec, res.model_copy(update={"attempts": res.attempts or 1}))


async def score_answer(specs: list, text: str, *, row: dict, asserts: list, job_id: int, client: Any = None,
                       judge_model: str | None = None, on_behalf_of: str | None = None,
                       tool_calls: list[dict] | None = None,
                       params: dict | None = None) -> tuple[list[dict], bool | None, float | None]:
    """Every evaluator on one answer (score dicts, passed, score); tool evaluators see its tool calls,
    schema ones the version's schema; a failing evaluator is a reason, never a crashed item."""
    if not specs and not asserts:
        return [], None, None
    specs = list(specs)
    try:
        specs += specs_for_row(asserts)
    except Exception as exc:  # noqa: BLE001 - a malformed stored assert must not stop the job
        log.warning("batch %s: bad row asserts: %s", job_id, exc)
    out, results, seen = [], [], set()
    for spec in specs:
        if spec.label in seen:
            continue
        seen.add(spec.label)
        try:
            if spec.type in ASYNC_TYPES:
                r = await evaluate(spec, text, row=row, client=client, source="batch", batch_job_id=job_id,
                                   judge_model=judge_model, actor=WORKER, on_behalf_of=on_behalf_of)
            else:
                r = check(spec, text, row=row, tool_calls=tool_calls, tools=(params or {}).get("tools"),
                          schema=response_schema(params))
        except Exception as exc:  # noqa: BLE001 - an evaluator never crashes an item
            r = EvalResult(None, None, f"{spec.type} failed: {type(exc).__name__}: {exc}"[:500])
        results.append(r)
        out.append({"evaluator": spec.label, "passed": r.passed, "score": r.score, "reason": r.reason})
    passed, score = summarise(results)
    return out, passed, score
