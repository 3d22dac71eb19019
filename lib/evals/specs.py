"""Evaluator specs: parse CLI `--eval` strings, promptfoo `__expected` cells and assert dicts.

The grammar is documented in `lib/evaluators.py`; this module only turns text/dicts into
`EvaluatorSpec` values (validated: regexes compile, schemas are valid, thresholds in 0..1)
and fills `{{column}}` placeholders from a row.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from .tool_checks import split_args_value

TYPES = ("equals", "contains", "icontains", "contains-any", "contains-all", "regex", "starts-with",
         "is-json", "json-schema", "similar", "similar-embed", "judge", "tool-called", "tool-args-match",
         "is-valid-openai-tools-call", "python", "unsupported")
NEEDS_CLIENT = ("similar-embed", "judge")
ASYNC_TYPES = (*NEEDS_CLIENT, "python")  # evaluated with `await evaluate(...)` (a model call or a subprocess)
# What each type's score means: pass/fail types score exactly 1 or 0 (read as a pass rate, in %); the others
# declare a graded score on 0..1 (read as a mean score on that scale).
PASS_FAIL_TYPES = ("equals", "contains", "icontains", "contains-any", "regex", "starts-with", "is-json",
                   "json-schema", "tool-called", "tool-args-match", "is-valid-openai-tools-call", "human")
SCORE_SCALE = (0.0, 1.0)
_ALIASES = {"icontains-any": "contains-any", "icontains-all": "contains-all", "llm-rubric": "judge",
            "grade": "judge", "model-graded": "judge", "startswith": "starts-with", "starts_with": "starts-with",
            "equal": "equals", "eq": "equals", "json": "is-json", "valid-json": "is-json",
            "embedding-similar": "similar-embed", "similar-embedding": "similar-embed"}
_UNSUPPORTED = ("javascript", "fn", "webhook", "cost", "latency", "perplexity", "levenshtein",
                "rouge-n", "bleu", "classifier", "moderation")
_NO_VALUE = ("is-json", "is-valid-openai-tools-call")
_PY_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
_FLOAT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
_PLACE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


@dataclass(frozen=True)
class EvaluatorSpec:
    """One evaluator: type, value (text, list or schema), threshold, judge/embedding model, negation."""

    type: str
    value: Any = None
    threshold: float | None = None
    model: str | None = None
    negate: bool = False

    @property
    def label(self) -> str:
        """A short stable name (<= 200 chars) for Score.evaluator; long values get a hash suffix."""
        head = ("not-" if self.negate else "") + self.type
        parts = [head]
        if self.model:
            parts.append(self.model)
        if self.threshold is not None:
            parts.append(f"{self.threshold:g}")
        if self.value not in (None, ""):
            parts.append(self.value if isinstance(self.value, str) else json.dumps(self.value, sort_keys=True))
        text = ":".join(parts)
        if len(text) > 200:
            digest = hashlib.sha256(text.encode()).hexdigest()[:10]
            text = text[:185] + "…#" + digest
        return text

    def to_dict(self) -> dict:
        """JSON-safe dict (what DatasetRow.asserts and BatchJob.evaluators store)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}


# ---------------------------------------------------------------- parsing

def scale_of(label: str) -> str:
    """'pass_fail' or 'score' (0..1) for an evaluator, from its type (a `Score.evaluator` label or a spec string)."""
    head = re.split(r"[:(]", label.strip(), maxsplit=1)[0]
    kind, _negate = _canon(head)
    return "pass_fail" if kind in PASS_FAIL_TYPES else "score"


def _canon(kind: str) -> tuple[str, bool]:
    kind = kind.strip().lower()
    negate = kind.startswith("not-")
    if negate:
        kind = kind[4:]
    kind = _ALIASES.get(kind, kind)
    if kind in _UNSUPPORTED:
        return "unsupported", negate
    return kind, negate


def _split_model(rest: str, what: str) -> tuple[str, str]:
    """'endpoint/model:tail' -> ('endpoint/model', 'tail'); the model name must not contain ':'."""
    if "/" not in rest.split(":", 1)[0]:
        raise ValueError(f"{what}: expected ENDPOINT/MODEL:..., e.g. {what}:echo/echo:...")
    model, _, tail = rest.partition(":")
    return model, tail


def _threshold(rest: str) -> tuple[float | None, str]:
    head, sep, tail = rest.partition(":")
    if sep and _FLOAT.match(head):
        return float(head), tail
    return None, rest


def _items(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_spec(text: str, *, judge_default: bool = False) -> EvaluatorSpec:
    """Parse a CLI `--eval` string like 'contains:foo' or 'similar:0.8:text'; ValueError if unknown.

    `judge_default`: the job has a judge model, so `judge:RUBRIC` / `llm-rubric:RUBRIC` may name none.
    """
    spec = _parse(text, strict=True, judge_default=judge_default)
    assert spec is not None
    return spec


def parse_expected(cell: str) -> EvaluatorSpec:
    """Parse a promptfoo `__expected` cell: a known prefix, else the whole cell is an equals value."""
    return _parse(cell, strict=False) or EvaluatorSpec("equals", cell)


def _parse(text: str, *, strict: bool, judge_default: bool = False) -> EvaluatorSpec | None:
    raw = text.strip() if strict else text
    m = re.match(r"^\s*([A-Za-z][A-Za-z_-]*)(?:\((\d*\.?\d+)\))?(?::|$)", raw)
    if not m:
        if strict:
            raise ValueError(f"evaluator {text!r}: expected TYPE[:VALUE], e.g. contains:foo; "
                             f"types: {', '.join(TYPES[:-1])}")
        return None
    kind, negate = _canon(m.group(1))
    if kind not in TYPES:
        if strict:
            raise ValueError(f"unknown evaluator type {m.group(1)!r}; known: {', '.join(TYPES[:-1])}")
        return None
    rest = raw[m.end():]
    paren = float(m.group(2)) if m.group(2) else None
    if kind == "unsupported":
        if strict:
            raise ValueError(f"evaluator type {m.group(1)!r} is not supported here")
        return EvaluatorSpec("unsupported", m.group(1).lower(), negate=negate)
    if kind == "is-valid-openai-tools-call":
        return EvaluatorSpec(kind, negate=negate)
    if kind in _NO_VALUE:
        return EvaluatorSpec(kind, rest or None, negate=negate) if not rest else \
            EvaluatorSpec("json-schema", _schema(rest), negate=negate)
    if kind == "json-schema":  # without a schema: the version's own response_format schema
        return EvaluatorSpec(kind, _schema(rest) if rest.strip() else None, negate=negate)
    if kind == "tool-args-match":
        split_args_value(rest)  # raises ValueError naming the evaluator
        return EvaluatorSpec(kind, rest.strip(), negate=negate)
    if kind == "similar":
        threshold, value = _threshold(rest)
        return _checked(EvaluatorSpec(kind, value, paren if paren is not None else threshold, negate=negate))
    if kind == "similar-embed":
        model, tail = _split_model(rest, kind)
        threshold, value = _threshold(tail)
        return _checked(EvaluatorSpec(kind, value, paren if paren is not None else threshold, model, negate))
    if kind == "judge":
        if "/" in rest.split(":", 1)[0] and ":" in rest:
            model, rubric = _split_model(rest, kind)
        else:
            if strict and not judge_default:
                raise ValueError("judge: expected judge:ENDPOINT/MODEL:RUBRIC, e.g. judge:echo/echo:Is it polite? "
                                 "(or give the job a judge model)")
            model, rubric = None, rest  # promptfoo llm-rubric: no model; the caller supplies a default
        return _checked(EvaluatorSpec(kind, rubric, paren, model, negate))
    if kind in ("contains-any", "contains-all"):
        return _checked(EvaluatorSpec(kind, _items(rest), negate=negate))
    return _checked(EvaluatorSpec(kind, rest, negate=negate))


def _schema(text: str) -> dict:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"json-schema: the schema is not valid JSON ({exc.msg})") from None
    if not isinstance(schema, dict):
        raise ValueError("json-schema: the schema must be a JSON object")  # noqa: TRY004 - callers catch ValueError
    _check_schema(schema)
    return schema


def _check_schema(schema: dict) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"json-schema: invalid schema: {exc.message}") from None


def check_python_name(value: Any) -> str:
    """'module:function' (dotted module allowed); ValueError otherwise (a path is never accepted)."""
    if not isinstance(value, str) or not _PY_NAME.match(value.strip()):
        raise ValueError(f"python evaluator {value!r}: expected python:MODULE:FUNCTION naming a module in "
                         "WORKBENCH_EVALUATORS_DIR (no path, no inline code)")
    return value.strip()


def _checked(spec: EvaluatorSpec) -> EvaluatorSpec:
    if spec.type == "python":
        check_python_name(spec.value)
    if spec.type in ("contains-any", "contains-all") and not spec.value:
        raise ValueError(f"{spec.type}: give at least one item, e.g. {spec.type}:a,b")
    if spec.type not in ("is-json", "json-schema", "is-valid-openai-tools-call", "unsupported") \
            and spec.value in (None, "", []):
        raise ValueError(f"{spec.type}: missing value, e.g. {spec.type}:text")
    if spec.type == "regex":
        try:
            re.compile(spec.value)
        except re.error as exc:
            raise ValueError(f"regex {spec.value!r}: {exc}") from None
    if spec.threshold is not None and not 0.0 <= spec.threshold <= 1.0:
        raise ValueError(f"{spec.type}: threshold {spec.threshold} must be between 0 and 1")
    return spec


def spec_from_dict(d: dict) -> EvaluatorSpec:
    """A promptfoo assert / stored dict ({type, value, threshold, model|provider}) to a spec."""
    if not isinstance(d, dict) or not isinstance(d.get("type"), str):
        raise ValueError(f"an assertion needs a 'type': {json.dumps(d)[:100]}")  # noqa: TRY004
    kind, negate = _canon(d["type"])
    negate = negate or bool(d.get("negate"))
    if kind not in TYPES:
        raise ValueError(f"unknown assertion type {d['type']!r}; known: {', '.join(TYPES[:-1])}")
    value = d.get("value")
    threshold = d.get("threshold")
    model = d.get("model") or d.get("provider")
    if kind == "unsupported":
        return EvaluatorSpec("unsupported", value if d["type"] == "unsupported" else d["type"], negate=negate)
    if kind == "is-json" and isinstance(value, dict):
        kind = "json-schema"
    if kind == "tool-args-match" and value is not None:
        split_args_value(value)
        if isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
    if kind == "json-schema":
        if isinstance(value, str):
            value = _schema(value) if value.strip() else None
        elif isinstance(value, dict):
            _check_schema(value)
    if kind in ("contains-any", "contains-all") and isinstance(value, str):
        value = _items(value)
    elif kind not in ("contains-any", "contains-all", "json-schema") and value is not None \
            and not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    return _checked(EvaluatorSpec(kind, value, float(threshold) if threshold is not None else None,
                                  model if isinstance(model, str) else None, negate))


def specs_for_row(row_asserts: list[dict] | None) -> list[EvaluatorSpec]:
    """Specs from a dataset row's stored asserts (promptfoo `__expected` / JSONL `assert`)."""
    return [spec_from_dict(a) for a in row_asserts or []]


def coerce(spec: EvaluatorSpec | dict | str) -> EvaluatorSpec:
    """Accept a spec, its dict form or its string form."""
    if isinstance(spec, EvaluatorSpec):
        return spec
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    return parse_spec(spec)


# ---------------------------------------------------------------- value placeholders

def fill(value: Any, row: dict | None) -> Any:
    """Replace {{column}} in a text value (or list items) with the row's cells; one pass."""
    if not row or value is None:
        return value
    if isinstance(value, list):
        return [fill(v, row) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    folded = {_fold(k): v for k, v in row.items()}

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name in row:
            return str(row[name])
        return str(folded.get(_fold(name), m.group(0)))

    return _PLACE.sub(sub, value)


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name).casefold()
