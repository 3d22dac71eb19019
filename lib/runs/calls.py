"""The call types shared by everything that makes or records a model call, and the one Run-row builder.

`CallSpec` is a call prepared in the caller's thread (everything resolved, nothing sent);
`RunResult` is its outcome; `run_row(spec, result)` is the only place a Run row's column
values are put together (playground, compare, CLI, live batch, provider batch, judge and
embedding calls all go through it), so what a row holds cannot drift between call paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from lib.models import Run, utcnow
from lib.settings import get_settings

M = TypeVar("M", bound=BaseModel)


_Template = tuple[dict[str, Any], tuple[tuple[str, Any], ...], dict[str, Any] | None]
_templates: dict[type, _Template] = {}


def _template(cls: type[BaseModel]) -> _Template:
    plain, factories = {}, []
    for name, f in cls.model_fields.items():
        if f.default_factory is not None:
            factories.append((name, f.default_factory))
        elif not f.is_required():
            plain[name] = f.default
    private = {k: a.get_default() for k, a in cls.__private_attributes__.items()} or None
    hit = _templates[cls] = (plain, tuple(factories), private)
    return hit


def construct(cls: type[M], values: dict[str, Any]) -> M:
    """`cls.model_construct(**values)` for a plain model (no aliases, extras or post-init hook) and values that
    are already typed, without its per-field loop: it was a third of the cost of building a call's result at
    1,000 calls/s.  Defaults that are not factories are shared, so they must be immutable (None, "", 0, False);
    `tests/lib/runs/test_result_build.py` checks the result equals `model_construct`'s."""
    plain, factories, private = _templates.get(cls) or _template(cls)
    fields = dict(plain)
    fields.update(values)
    for name, factory in factories:
        if name not in values:
            fields[name] = factory()
    m = cls.__new__(cls)
    object.__setattr__(m, "__dict__", fields)
    object.__setattr__(m, "__pydantic_fields_set__", set(values))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", dict(private) if private is not None else None)
    return m


class RunResult(BaseModel):
    """The outcome of one call.

    `run` is the Run row (unsaved, id None, when record=False), built on first access;
    `row` is the same as a plain dict of column values (no id), cheap for bulk inserts.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: int | None = None
    endpoint: str = ""
    model: str = ""
    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None  # OpenAI shape, for every provider kind
    reasoning: str | None = None
    reasoning_tokens: int | None = None  # included in completion_tokens
    thinking_blocks: list[dict[str, Any]] | None = None  # Anthropic's signed thinking blocks (tool turns)
    finish_reason: str | None = None
    status: Literal["ok", "error", "incomplete"] = "ok"
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    usage_raw: dict[str, Any] | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    attempts: int = 0
    cached: bool = False
    retryable: bool = False
    _row: dict[str, Any] | None = PrivateAttr(default=None)
    _run: Any = PrivateAttr(default=None)

    @classmethod
    def built(cls, **values: Any) -> RunResult:
        """`model_construct` for values that are already typed, without its per-field loop (`construct`)."""
        return construct(cls, values)

    @property
    def row(self) -> dict[str, Any] | None:
        """The Run row's column values (without id)."""
        return self._row

    @property
    def run(self) -> Any:
        """The Run row (a `lib.models.Run`; its id is set when the client recorded it)."""
        if self._run is None and self._row is not None:
            self._run = Run(id=self.run_id, **self._row)
        return self._run

    @run.setter
    def run(self, value: Any) -> None:
        self._run = value

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == "ok"

    def summary(self) -> str:
        """One line: status, tokens, cost, latency, TTFT (what the CLI prints under the answer)."""
        est = "~" if self.usage_estimated else ""
        tok = (f"{est}{self.prompt_tokens if self.prompt_tokens is not None else '?'} in / "
               f"{est}{self.completion_tokens if self.completion_tokens is not None else '?'} out tokens")
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.6f}"
        lat = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "? ms"
        ttft = f"TTFT {self.ttft_ms:.0f} ms" if self.ttft_ms is not None else "TTFT -"
        head = self.status if self.status == "ok" else f"{self.status} ({self.error_kind}: {self.error_message})"
        extra = f", {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{head} | {tok} | {cost} | {lat} | {ttft}{extra}{' | cached' if self.cached else ''}"


@dataclass
class CallSpec:
    """A call prepared in the caller's thread: everything resolved, nothing sent yet.

    `config` is the endpoint's `EndpointConfig` (typed loosely here: runs sits below client).
    """

    endpoint: str
    model: str
    config: Any
    messages: list[dict]
    params: dict[str, Any]
    variables: dict[str, Any]
    mode: str = "chat"
    source: str = "cli"
    cache: bool = False
    cache_ttl_s: float = 24 * 3600
    deadline_s: float = 60.0
    record: bool = True
    batch_job_id: int | None = None
    compare_id: str | None = None
    prompt_id: int | None = None
    version_id: int | None = None
    prompt_name: str | None = None
    version_number: int | None = None
    actor: str | None = None  # the acting Identity's label (token:NAME for the gateway)
    parent_run_id: int | None = None  # the previous turn when this call continues a conversation


def storable_text(text: str) -> str:
    """A string every database can store: NUL (PostgreSQL refuses it) removed, lone surrogates (valid
    JSON, invalid UTF-8) replaced by U+FFFD (the character that means "an invalid code unit was here";
    a NUL made U+FFFD would be a character nobody sent)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "") if "\x00" in text else text


_SCALARS = frozenset({int, float, bool, type(None)})


def _clean_str(text: str) -> bool:
    return ("\x00" not in text) if text.isascii() else storable_text(text) == text


def _clean(value: Any) -> bool:
    """Whether `storable` would give `value` back unchanged: plain ASCII strings without NUL (or strings
    that encode as UTF-8), dicts and lists of them, and other scalars; a tuple is not (it becomes a list).

    Dispatches on the exact type and checks a container's strings and numbers in its own loop, without a
    call per item: this check runs over every call's messages, variables, parameters and usage, and was
    the largest Python cost of recording a call."""
    t = type(value)
    if t is str:
        return _clean_str(value)
    if t is dict:
        for k in value:
            if type(k) is str and not _clean_str(k):
                return False
        items: Any = value.values()
    elif t is list:
        items = value
    elif t in _SCALARS:
        return True
    else:
        return _clean_slow(value)
    for v in items:
        tv = type(v)
        if tv is str:
            if not _clean_str(v):
                return False
        elif tv not in _SCALARS and not _clean(v):
            return False
    return True


def _clean_slow(value: Any) -> bool:
    """`_clean` for subclasses of str, dict and list and for other types (the same rules, by isinstance)."""
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, dict):
        return all((not isinstance(k, str) or _clean_str(k)) and _clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_clean(v) for v in value)
    return not isinstance(value, tuple)


def storable(value: Any) -> Any:
    """`storable_text` applied to every string inside a JSON-like value (keys too); a value with nothing
    to clean comes back as the same object (checking is cheaper than copying, and almost nothing needs it)."""
    if _clean(value):
        return value
    return _storable(value)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k) if isinstance(k, str) else k: _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value


_TEXT_COLUMNS = ("output", "error_message", "reasoning", "prompt_name", "finish_reason", "request_id", "endpoint",
                 "model", "actor")
_JSON_COLUMNS = ("params", "variables", "messages", "usage_raw", "tool_calls")  # thinking_blocks: verbatim
_SHORT = {"finish_reason": 50, "request_id": 200, "endpoint": 100, "model": 200, "prompt_name": 200, "actor": 200}


def make_storable(row: dict[str, Any]) -> dict[str, Any]:
    """The one place text enters storage: every string of a Run row made storable and cut to its column."""
    for k in _TEXT_COLUMNS:
        v = row.get(k)
        if isinstance(v, str):
            v = storable_text(v)
            row[k] = v[:_SHORT[k]] if k in _SHORT else v
    cap = get_settings().max_response_bytes
    if len(row.get("output") or "") > cap:
        row["output"] = row["output"][:cap]
    for k in _JSON_COLUMNS:
        if row.get(k) is not None:
            row[k] = storable(row[k])
    blocks = row.get("thinking_blocks")
    if blocks is not None and not _clean(blocks):
        row["thinking_blocks"] = None  # a signed block is useful only unchanged; one that cannot be stored is dropped
    return row


def run_row(spec: CallSpec, result: RunResult) -> dict[str, Any]:
    """The Run row (column values, no id) of a call and its outcome: the one builder every path uses.
    Every string in it is storable (`make_storable`), so a poison reply cannot fail its write."""
    return make_storable({"created_at": utcnow(), "source": spec.source, "prompt_id": spec.prompt_id,
            "version_id": spec.version_id, "prompt_name": spec.prompt_name, "version_number": spec.version_number,
            "endpoint": spec.endpoint, "model": spec.model, "params": spec.params, "variables": spec.variables,
            "messages": spec.messages, "output": result.text, "finish_reason": result.finish_reason,
            "status": result.status, "error_kind": result.error_kind, "error_message": result.error_message,
            "http_status": result.http_status, "request_id": result.request_id,
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "usage_estimated": bool(result.usage_estimated), "usage_raw": result.usage_raw,
            "cost_usd": result.cost_usd, "latency_ms": result.latency_ms, "ttft_ms": result.ttft_ms,
            "attempts": result.attempts, "cache_hit": bool(result.cached), "rating": None, "note": None,
            "compare_id": spec.compare_id, "batch_job_id": spec.batch_job_id, "actor": spec.actor,
            "tool_calls": result.tool_calls or None, "reasoning": result.reasoning,
            "reasoning_tokens": result.reasoning_tokens, "thinking_blocks": result.thinking_blocks or None,
            "parent_run_id": spec.parent_run_id})


def spec_for_version(version: Any, *, prompt_name: str | None, endpoint: str, model: str, messages: list[dict],
                     params: dict[str, Any], variables: dict[str, Any], source: str,
                     batch_job_id: int | None = None) -> CallSpec:
    """A CallSpec for a call of a saved prompt version (paths that build the row without the client)."""
    return CallSpec(endpoint=endpoint, model=model, config=None, messages=messages, params=params,
                    variables=variables, source=source, batch_job_id=batch_job_id, prompt_id=version.prompt_id,
                    version_id=version.id, prompt_name=prompt_name, version_number=version.number)
