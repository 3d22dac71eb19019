"""Evaluators: check a model output against an expectation; each gives passed, score and reason.

Spec strings (CLI ``--eval``, promptfoo ``__expected`` cells) and dicts (JSONL ``assert``
lists, ``BatchJob.evaluators``, ``DatasetRow.asserts``) both become an ``EvaluatorSpec``:

    equals:TEXT            exact match (surrounding whitespace ignored)
    contains:TEXT          case-sensitive substring        icontains:TEXT   case-insensitive
    contains-any:a,b,c     any of the items, case-insensitive (also icontains-any)
    contains-all:a,b,c     all of the items, case-insensitive (also icontains-all)
    regex:PATTERN          re.search                       starts-with:TEXT
    is-json                output parses as JSON           json-schema:{...}  valid JSON matching the schema
    similar:0.8:TEXT       rapidfuzz ratio >= threshold (default 0.8; ``similar(0.8):TEXT`` too)
    json-schema            (no schema) valid JSON matching the version's own response_format schema
    tool-called:NAME       tool-args-match:[NAME:]{schema}   is-valid-openai-tools-call   (see tool_checks)
    similar-embed:ENDPOINT/MODEL:0.8:TEXT   cosine of embeddings from the endpoint's /v1/embeddings
    judge:ENDPOINT/MODEL:RUBRIC             LLM judge through the model client (llm-rubric: too)
    not-<type>:...         negation of any of the above (promptfoo style)

A value may name dataset columns as ``{{column}}`` (e.g. ``similar:0.8:{{expected}}``); they
are filled from the row at evaluation time (one pass, unknown names left as written).
In ``__expected`` cells a value without a known prefix means ``equals``.

``evaluate()`` is async (embeddings and the judge call a model); ``check()`` is the sync
function for the pure evaluators and raises ``ValueError`` for the two that need a client.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from lib.client import embed, get_client

from .custom import run_async, run_sync
from .specs import (
    ASYNC_TYPES,
    NEEDS_CLIENT,
    TYPES,
    EvaluatorSpec,
    coerce,
    fill,
    parse_expected,
    parse_spec,
    spec_from_dict,
    specs_for_row,
)
from .tool_checks import TOOL_TYPES, check_tools

__all__ = ["ASYNC_TYPES", "NEEDS_CLIENT", "TYPES", "EvalResult", "EvaluatorSpec", "check", "coerce", "cosine",
           "evaluate", "evaluate_all", "fill", "parse_expected", "parse_judge", "parse_spec", "spec_from_dict",
           "specs_for_row", "summarise"]

DEFAULT_SIMILAR = 0.8
DEFAULT_JUDGE_PASS = 0.5


@dataclass(frozen=True)
class EvalResult:
    """Outcome of one evaluator: passed (None = could not judge), score in 0..1 (or None), reason."""

    passed: bool | None
    score: float | None
    reason: str


# ---------------------------------------------------------------- pure evaluators

def _res(spec: EvaluatorSpec, passed: bool | None, score: float | None, reason: str) -> EvalResult:
    if spec.negate and passed is not None:
        return EvalResult(not passed, None if score is None else round(1.0 - score, 6), f"not ({reason})")
    return EvalResult(passed, score, reason)


def _b(ok: bool) -> float:
    return 1.0 if ok else 0.0


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "…"


def check(spec: EvaluatorSpec | dict | str, output: str, *, row: dict | None = None,
          tool_calls: list[dict] | None = None, tools: list[dict] | None = None,
          schema: dict | None = None) -> EvalResult:
    """Evaluate a pure (no model call) spec synchronously; ValueError for similar-embed and judge.

    `tool_calls` are the run's, `tools` and `schema` (its response_format schema) the version's.
    """
    spec = coerce(spec)
    if spec.type in NEEDS_CLIENT:
        raise ValueError(f"{spec.type} needs a model client: use `await evaluate(...)`")
    value = fill(spec.value, row)
    out = output or ""
    t = spec.type
    if t == "equals":
        ok = out.strip() == str(value).strip()
        return _res(spec, ok, _b(ok), "output equals the expected text" if ok else
                    f"output differs from {_short(str(value))!r}")
    if t in ("contains", "icontains"):
        hay, needle = (out, value) if t == "contains" else (out.casefold(), str(value).casefold())
        ok = needle in hay
        return _res(spec, ok, _b(ok), f"{'found' if ok else 'did not find'} {_short(str(value))!r}")
    if t in ("contains-any", "contains-all"):
        hay = out.casefold()
        found = [v for v in value if str(v).casefold() in hay]
        missing = [v for v in value if str(v).casefold() not in hay]
        ok = bool(found) if t == "contains-any" else not missing
        score = len(found) / len(value) if value else 0.0
        reason = (f"found {found}" if ok and t == "contains-any" else
                  "found all" if ok else f"missing {missing}" if t == "contains-all" else "found none of the items")
        return _res(spec, ok, _b(ok) if t == "contains-any" else round(score, 6), reason)
    if t == "starts-with":
        ok = out.lstrip().startswith(str(value))
        return _res(spec, ok, _b(ok), f"output {'starts' if ok else 'does not start'} with {_short(str(value))!r}")
    if t == "regex":
        try:
            ok = re.search(str(value), out) is not None
        except re.error as exc:
            return EvalResult(None, None, f"bad regex: {exc}")
        return _res(spec, ok, _b(ok), f"regex {'matched' if ok else 'did not match'}")
    if t == "json-schema" and value is None:
        if schema is None:
            return EvalResult(None, None, "json-schema: the version has no response_format schema to check against")
        return _res(spec, *_json_check(out, schema))
    if t in ("is-json", "json-schema"):
        return _res(spec, *_json_check(out, value if t == "json-schema" else None))
    if t in TOOL_TYPES:
        try:
            return _res(spec, *check_tools(t, value, tool_calls, tools))
        except ValueError as exc:
            return EvalResult(None, None, str(exc))
    if t == "similar":
        from rapidfuzz import fuzz, utils

        threshold = spec.threshold if spec.threshold is not None else DEFAULT_SIMILAR
        score = fuzz.ratio(out, str(value), processor=utils.default_process) / 100.0
        ok = score >= threshold
        return _res(spec, ok, round(score, 6), f"similarity {score:.3f} {'>=' if ok else '<'} {threshold:g}")
    if t == "python":
        return _res(spec, *run_sync(spec, out, row))
    if t == "unsupported":
        return EvalResult(None, None, f"assertion type {value!r} is not supported by the workbench")
    raise ValueError(f"unknown evaluator type {t!r}")


def _strip_fence(text: str) -> str:
    m = re.match(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", text, re.DOTALL)
    return m.group(1) if m else text


def _json_check(out: str, schema: dict | None) -> tuple[bool, float, str]:
    try:
        doc = json.loads(_strip_fence(out))
    except json.JSONDecodeError as exc:
        return False, 0.0, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if schema is None:
        return True, 1.0, "valid JSON"
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))
    if error is None:
        return True, 1.0, "valid JSON matching the schema"
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return False, 0.0, f"schema violation at {where}: {_short(error.message, 150)}"


# ---------------------------------------------------------------- model-backed evaluators

JUDGE_SYSTEM = (
    "You are a strict grader. Grade the OUTPUT against the RUBRIC. Reply with JSON only, on one line: "
    '{"reason": "<one or two sentences>", "score": <number from 0 to 1>, "pass": <true or false>}')


def judge_messages(rubric: str, output: str) -> list[dict]:
    """The chat messages sent to an LLM judge."""
    return [{"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"RUBRIC:\n{rubric}\n\nOUTPUT:\n{output}"}]


def parse_judge(reply: str, threshold: float | None = None) -> EvalResult:
    """Read a judge's reply: the last JSON object with a score or pass; else PASS/FAIL on the last line."""
    threshold = DEFAULT_JUDGE_PASS if threshold is None else threshold
    decoder = json.JSONDecoder()
    found: dict | None = None
    for m in re.finditer(r"\{", reply):
        try:
            obj, _ = decoder.raw_decode(reply, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and ("score" in obj or "pass" in obj):
            found = obj
    if found is not None:
        score = found.get("score")
        try:
            score = float(score) if score is not None else None
        except (TypeError, ValueError):
            score = None
        if score is not None and not math.isfinite(score):
            score = None
        if score is not None and score > 1:
            score = score / 10 if score <= 10 else score / 100 if score <= 100 else None
        passed = found.get("pass")
        if not isinstance(passed, bool):
            passed = None if score is None else score >= threshold
        if score is None and passed is not None:
            score = _b(passed)
        return EvalResult(passed, None if score is None else round(max(0.0, min(1.0, score)), 6),
                          str(found.get("reason") or "")[:2000])
    lines = [ln for ln in reply.strip().splitlines() if ln.strip()]
    words = re.findall(r"\b(PASS|FAIL)\b", lines[-1].upper()) if lines else []
    if words:  # only a verdict on the last line counts (the rubric itself may say "pass")
        ok = words[-1] == "PASS"
        return EvalResult(ok, _b(ok), _short(reply.strip(), 500))
    return EvalResult(None, None, f"could not read the judge's reply: {_short(reply.strip(), 200)!r}")


async def _judge(spec: EvaluatorSpec, output: str, row: dict | None, client: Any, judge_model: str | None,
                 call_kw: dict) -> EvalResult:
    model = spec.model or judge_model
    if not model:
        return EvalResult(None, None, "no judge model: write judge:ENDPOINT/MODEL:rubric")
    res = await client.generate(model=model, messages=judge_messages(str(fill(spec.value, row)), output),
                                params={"temperature": 0}, **call_kw)
    if getattr(res, "status", "ok") != "ok":
        return EvalResult(None, None, f"judge call failed ({getattr(res, 'error_kind', None)}): "
                                      f"{_short(str(getattr(res, 'error_message', '') or ''), 200)}")
    return _res(spec, *_astuple(parse_judge(res.text, spec.threshold)))


def _astuple(r: EvalResult) -> tuple:
    return r.passed, r.score, r.reason


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors (0.0 if either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))  # different sizes: ValueError
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


async def _similar_embed(spec: EvaluatorSpec, output: str, row: dict | None, client: Any,
                         call_kw: dict) -> EvalResult:
    expected = str(fill(spec.value, row))
    kw = {k: v for k, v in call_kw.items() if k in ("source", "batch_job_id", "actor", "on_behalf_of")}
    vectors = await embed(spec.model or "", [output, expected], client=client, **kw)
    score = cosine(vectors[0], vectors[1])
    threshold = spec.threshold if spec.threshold is not None else DEFAULT_SIMILAR
    ok = score >= threshold
    return _res(spec, ok, round(score, 6), f"cosine {score:.3f} {'>=' if ok else '<'} {threshold:g}")


async def evaluate(spec: EvaluatorSpec | dict | str, output: str, *, row: dict | None = None,
                   client: Any = None, judge_model: str | None = None, tool_calls: list[dict] | None = None,
                   tools: list[dict] | None = None, schema: dict | None = None, **call_kw: Any) -> EvalResult:
    """Evaluate any spec (async); model errors become passed=None with the reason, never raise.

    `call_kw` (e.g. source="batch", batch_job_id=7) is passed to the judge's `client.generate`
    (and tags an embedding call's Run row).
    """
    spec = coerce(spec)
    if spec.type == "python":
        return _res(spec, *await run_async(spec, output or "", row))
    if spec.type not in NEEDS_CLIENT:
        return check(spec, output, row=row, tool_calls=tool_calls, tools=tools, schema=schema)
    try:
        if client is None:
            client = get_client()
        if spec.type == "judge":
            return await _judge(spec, output or "", row, client, judge_model, call_kw)
        return await _similar_embed(spec, output or "", row, client, call_kw)
    except Exception as exc:  # noqa: BLE001 - an evaluator must never crash a batch item
        return EvalResult(None, None, f"{spec.type} failed: {type(exc).__name__}: {_short(str(exc), 300)}")


async def evaluate_all(specs: list[EvaluatorSpec], output: str, *, row: dict | None = None,
                       client: Any = None, **kw: Any) -> list[tuple[EvaluatorSpec, EvalResult]]:
    """Run several specs on one output, in order."""
    return [(s, await evaluate(s, output, row=row, client=client, **kw)) for s in specs]


def summarise(results: list[EvalResult]) -> tuple[bool | None, float | None]:
    """(all passed?, mean score) over results that could be judged; (None, None) if none could."""
    judged = [r for r in results if r.passed is not None]
    scores = [r.score for r in results if r.score is not None]
    passed = all(r.passed for r in judged) if judged else None
    return passed, (round(sum(scores) / len(scores), 6) if scores else None)
