"""Prompt templates: find variables and render chat messages.

Two formats, chosen per version:

- ``mustache`` (default): ``{{ name }}`` placeholders, dotted names reach into nested
  values (``{{ customer.name }}``), substituted in ONE pass: a value that itself contains
  ``{{x}}`` stays literal.  ``\\{{`` writes a literal ``{{``.  Anything else between
  ``{{`` and ``}}`` is a malformed template.
- ``jinja2`` (opt-in): rendered in ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``,
  a wall-clock cap and an output-size cap.  The time cap is a line tracer on EVERY Python frame
  of the render (the template's and the filters' it calls, e.g. ``wordwrap``'s loop), so even a
  loop that prints nothing stops; what a tracer cannot interrupt (one C-level operation) is
  size-guarded before it runs: ``*``, ``%``, ``~`` (concatenation), ``join``, ``replace``,
  ``center``, ``indent``, ``format``, ``wordwrap`` and the padding str methods.  Callers on an
  event loop (the batch runner) render in a worker thread, so one slow render never stalls it.
"""

from __future__ import annotations

import json
import re
import string
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from lib.errors import MissingVariablesError, TemplateError, ValidationError

from . import content as content_mod
from . import media as media_mod
from . import template_guard as guard

FORMATS = ("mustache", "jinja2")
RENDER_TIME_CAP_S = 0.5
OUTPUT_CAP_CHARS = 1_000_000
VALUE_CAP_CHARS = 1_000_000  # one variable's text; more can never fit a message (the 1 MB message limit)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_PLACEHOLDER = re.compile(r"(\\)?\{\{(.*?)\}\}", re.S)
_VALID = re.compile(rf"^\s*({_NAME})\s*$")


@dataclass(frozen=True)
class _Source:
    messages: list[dict]
    template_format: str


def _source(version_or_messages: Any, template_format: str | None = None) -> _Source:
    if isinstance(version_or_messages, list):
        return _Source(version_or_messages, template_format or "mustache")
    return _Source(list(version_or_messages.messages),
                   template_format or getattr(version_or_messages, "template_format", "mustache"))


# ---------------------------------------------------------------- mustache

def _split_tail(text: str) -> tuple[str, str]:
    """(text up to the last '}}', the rest).  The lazy placeholder regex rescans to the end of the text
    from every '{{' that has no '}}' after it: quadratic, so 100 KB of '{' took minutes.  Only the
    tail after the last '}}' holds such openers, and it has no placeholder, so it is kept out."""
    end = text.rfind("}}")
    return (text[:end + 2], text[end + 2:]) if end >= 0 else ("", text)


def _mustache_names(text: str, where: str) -> list[str]:
    names: list[str] = []
    text, tail = _split_tail(text)
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1):
            continue
        valid = _VALID.match(m.group(2))
        if not valid:
            raise TemplateError(f"{where}: malformed placeholder {m.group(0)[:60]!r}; "
                                "use {{ name }} or {{ name.field }} (letters, digits, _ and dots)")
        names.append(valid.group(1))
    rest = _PLACEHOLDER.sub("", text) + tail
    if "{{" in rest.replace("\\{{", ""):
        raise TemplateError(f"{where}: '{{{{' is never closed with '}}}}'")
    return names


def walk(obj: Any, parts: list[str]) -> tuple[bool, Any]:
    """Follow keys (and list indexes) into nested values: (found, value)."""
    for part in parts:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return False, None
    return True, obj


def _lookup(values: dict, name: str) -> tuple[bool, Any]:
    if name in values:
        return True, values[name]
    return walk(values, name.split("."))


def as_text(value: Any) -> str:
    """How a value appears in a rendered prompt: text as is, objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _render_mustache(text: str, values: dict) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1):
            return "{{" + m.group(2) + "}}"
        return as_text(_lookup(values, _VALID.match(m.group(2)).group(1))[1])

    head, tail = _split_tail(text)
    return _PLACEHOLDER.sub(sub, head) + tail


# ---------------------------------------------------------------- jinja2

_env = None
_formatter = string.Formatter()
clock = time.monotonic  # the render deadline's clock: tests inject a fake one instead of waiting


class _GuardedConcat(CodeGenerator):
    """Compiles `a ~ b` to a size-checked join: `{% set a = a ~ a %}` ten times reached 1.97 GB."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 (jinja2's visitor name)
        self.write("environment.guarded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _jinja_env():
    global _env
    if _env is None:
        class _Env(ImmutableSandboxedEnvironment):
            intercepted_binops = frozenset(["*", "**", "%"])
            code_generator_class = _GuardedConcat

            def guarded_concat(self, parts):
                parts = [p if isinstance(p, str) else str(p) for p in parts]
                guard.check_total(parts, OUTPUT_CAP_CHARS)
                return "".join(parts)

            def call_binop(self, context, operator, left, right):
                # "x" * 10**9 or 10**10**10 would exhaust memory or CPU before any cap fires.
                if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
                    raise TemplateError("exponent too large in template")
                if operator == "%":
                    guard.check_percent(left, right, OUTPUT_CAP_CHARS)
                if operator == "*":
                    for seq, n in ((left, right), (right, left)):
                        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) \
                                and len(seq) * n > OUTPUT_CAP_CHARS:
                            raise TemplateError("template output would exceed the size cap")
                return super().call_binop(context, operator, left, right)

            def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's signature)
                guard.check_method(__obj, args, kwargs, OUTPUT_CAP_CHARS)
                return super().call(__context, __obj, *args, **kwargs)

            def wrap_str_format(self, value):
                wrapped = super().wrap_str_format(value)
                if wrapped is None:
                    return None

                def checked(*args, **kwargs):
                    fmt = value.__self__
                    for _, _, spec, _ in _formatter.parse(fmt):
                        guard.check_spec(spec or "", OUTPUT_CAP_CHARS)
                    if any("{" in (spec or "") for _, _, spec, _ in _formatter.parse(fmt)):
                        # a nested width ({:>{w}}): check every value that could fill it
                        for v in (*args, *kwargs.values()):
                            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > OUTPUT_CAP_CHARS:
                                raise TemplateError("template output would exceed the size cap")
                    return wrapped(*args, **kwargs)

                return checked

        _env = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        for unsafe in ("lipsum", "cycler", "joiner", "namespace"):
            _env.globals.pop(unsafe, None)
        _env.filters.update(guard.guarded_filters(_env.filters, OUTPUT_CAP_CHARS))
    return _env


def _jinja_names(text: str, where: str) -> list[str]:
    from jinja2 import TemplateSyntaxError, meta

    try:
        ast = _jinja_env().parse(text)
        found = meta.find_undeclared_variables(ast) - set(_jinja_env().globals)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: jinja2 syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:  # e.g. 50,000 nested '{{' or '(': the parser is recursive
        raise TemplateError(f"{where}: jinja2 template nested too deeply") from None
    return sorted(found, key=lambda n: (m.start() if (m := re.search(rf"\b{re.escape(n)}\b", text)) else 0))


class _Deadline:
    """A line tracer on every frame of the render that raises once it runs past its cap."""

    def __init__(self, seconds: float) -> None:
        self.until = clock() + seconds
        self.ticks = 0

    def check(self) -> None:
        if clock() > self.until:
            raise TemplateError(f"template render exceeded {RENDER_TIME_CAP_S:g} s")

    def global_trace(self, frame, event, arg):
        return self.local_trace if event == "call" else None

    def local_trace(self, frame, event, arg):
        self.ticks += 1
        if self.ticks % 64 == 0:
            self.check()
        return self.local_trace


def _render_jinja(text: str, values: dict, where: str) -> str:
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    env = _jinja_env()
    try:
        template = env.from_string(text)
    except JinjaError as exc:
        raise TemplateError(f"{where}: jinja2 error: {exc}") from None
    except RecursionError:
        raise TemplateError(f"{where}: jinja2 template nested too deeply") from None
    deadline = _Deadline(RENDER_TIME_CAP_S)
    previous = sys.gettrace()
    out: list[str] = []
    size = 0
    sys.settrace(deadline.global_trace)
    try:
        for chunk in template.generate(**values):
            size += len(chunk)
            if size > OUTPUT_CAP_CHARS:
                raise TemplateError(f"{where}: rendered text exceeds {OUTPUT_CAP_CHARS:,} characters")
            out.append(chunk)
            deadline.check()
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}" if not str(exc).startswith(where) else str(exc)) from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: blocked by the template sandbox: {exc}") from None
    except (JinjaError, OverflowError, TypeError, ValueError, AttributeError, KeyError, IndexError,
            ZeroDivisionError, RecursionError, MemoryError) as exc:
        raise TemplateError(f"{where}: template error: {type(exc).__name__}: {exc}") from None
    finally:
        sys.settrace(previous)
    return "".join(out)


# ---------------------------------------------------------------- public API

def _where(i: int, msg: dict) -> str:
    return f"message {i + 1} ({msg.get('role', '?')})"


def check_format(template_format: str) -> str:
    """Validate a template format name."""
    if template_format not in FORMATS:
        raise ValidationError(f"unknown template format {template_format!r}; use one of {', '.join(FORMATS)}")
    return template_format


def _names_in(text: str, fmt: str, where: str) -> list[str]:
    return _jinja_names(text, where) if fmt == "jinja2" else _mustache_names(text, where)


def variables(version_or_messages: Any, template_format: str | None = None) -> list[str]:
    """Variable names in order of first appearance; raises TemplateError on a malformed template."""
    src = _source(version_or_messages, template_format)
    check_format(src.template_format)
    seen: dict[str, None] = {}
    for i, msg in enumerate(src.messages):
        if msg.get("role") == "placeholder":
            if msg.get("name"):
                seen.setdefault(str(msg["name"]), None)
            continue
        for text in _texts(msg.get("content")):
            for name in _names_in(text, src.template_format, _where(i, msg)):
                seen.setdefault(name, None)
        for name in content_mod.url_variables(msg.get("content")):
            seen.setdefault(name, None)
    return list(seen)


def _texts(content: Any) -> list[str]:
    """The templated texts of a content: the string, or each text part (other parts are never templated)."""
    if isinstance(content, list):
        return [str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return [str(content or "")]


def missing(version_or_messages: Any, values: dict, template_format: str | None = None) -> list[str]:
    """Variables that have no value in `values` (dotted names are looked up inside nested values)."""
    return [n for n in variables(version_or_messages, template_format) if not _lookup(values, n)[0]]


def unused(version_or_messages: Any, values: dict, template_format: str | None = None) -> list[str]:
    """Keys of `values` that no placeholder uses (a warning, never an error)."""
    used = {n.split(".")[0] for n in variables(version_or_messages, template_format)}
    used |= set(variables(version_or_messages, template_format))
    return [k for k in values if k not in used]


def _value_size(value: Any, path: str, budget: int) -> int:
    """Characters of text in a value (strings nested in dicts and lists), raising once over `budget`."""
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, dict):
        size = 0
        for k, v in value.items():
            size += _value_size(v, f"{path}.{k}", budget - size)
    elif isinstance(value, (list, tuple)):
        size = 0
        for i, v in enumerate(value):
            size += _value_size(v, f"{path}.{i}", budget - size)
    else:
        return 0
    if size > budget:
        raise ValidationError(f"variable {path!r} is {size:,} characters, over the {VALUE_CAP_CHARS:,} limit "
                              "for one value")
    return size


def check_value_sizes(values: dict) -> None:
    """Refuse any variable whose text is over VALUE_CAP_CHARS, before rendering or calling anything."""
    for name, value in values.items():
        _value_size(value, str(name), VALUE_CAP_CHARS)


def render_messages(messages: Iterable[dict], values: dict | None,
                    template_format: str = "mustache") -> list[dict]:
    """Render chat messages; raises MissingVariablesError naming every missing variable."""
    messages = list(messages)
    values = dict(values or {})
    lacking = missing(messages, values, template_format)
    if lacking:
        raise MissingVariablesError(lacking)
    check_value_sizes(values)
    content_mod.check_placeholders(messages, values)  # one clear error before anything is rendered

    def one(text: str, where: str) -> str:
        if template_format == "jinja2":
            return _render_jinja(text, values, where)
        return _render_mustache(text, values)

    out: list[dict] = []
    for i, msg in enumerate(messages):
        where = _where(i, msg)
        if msg.get("role") == "placeholder":  # the history as given, never templated
            out.extend(content_mod.expand_history(msg["name"], values[msg["name"]], where))
            continue
        content = msg.get("content")
        rendered: dict[str, Any] = {k: v for k, v in msg.items() if k in ("role", "tool_call_id", "tool_calls")}
        if isinstance(content, list):
            rendered["content"] = [_render_part(p, values, where, one) for p in content]
        else:
            rendered["content"] = one(str(content or ""), where)
        out.append(rendered)
    return out


def _render_part(part: Any, values: dict, where: str, one: Any) -> Any:
    """A text part templated; an image part whose URL is one variable filled from it; others as they are."""
    if not isinstance(part, dict):
        return part
    if part.get("type") == "text":
        return {**part, "text": one(str(part.get("text", "")), where)}
    names = content_mod.url_variables([part])
    if names:
        try:
            url = media_mod.image_url_for(_lookup(values, names[0])[1], names[0])
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        return {**part, "image_url": {**part["image_url"], "url": url}}
    return part


def render(version: Any, values: dict | None) -> list[dict]:
    """Render a prompt version (or anything with .messages and .template_format) to chat messages."""
    src = _source(version)
    return render_messages(src.messages, values, src.template_format)
