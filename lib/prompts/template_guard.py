"""Size guards for the Jinja2 sandbox: refuse single operations that would build a huge string.

The render's time cap is a line tracer and its output cap counts emitted chunks; neither can
stop ONE C-level operation such as ``"%999999999d" % 1``, ``"a"|center(10**9)``,
``s.replace("", big)``, ``xs|join(big)``, ``a ~ a`` or ``(['a' * 999999] * 2000)|join``, which
allocate gigabytes first, or ``big|wordwrap(1)``, a Python loop over millions of chunks.  Worse, Jinja2
folds constant expressions while COMPILING (before any cap is armed), so such a literal
template hung the caller for tens of seconds.  These checks estimate the result's size from
the arguments and raise TemplateError beforehand (during folding that makes Jinja2 defer the
expression to the render, where the error surfaces).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from typing import Any

from lib.errors import TemplateError

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?)[a-zA-Z%]")
_PADDING_METHODS = ("center", "ljust", "rjust", "zfill")


def _too_big(cap: int) -> TemplateError:
    return TemplateError(f"template output would exceed the size cap ({cap:,} characters)")


def _width(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    return len(value) if isinstance(value, str) else 0


def check_spec(spec: str, cap: int) -> None:
    """A str.format spec whose width or precision exceeds the cap."""
    if any(int(d) > cap for d in re.findall(r"\d+", spec or "")):
        raise _too_big(cap)


def check_percent(fmt: Any, args: Any, cap: int) -> None:
    """`fmt % args` with a width/precision (literal or `*`) over the cap."""
    if not isinstance(fmt, str) or "%" not in fmt:
        return
    specs = _PERCENT_SPEC.findall(fmt)
    for spec in specs:
        check_spec(spec, cap)
    if any("*" in spec for spec in specs):
        values = args if isinstance(args, tuple) else (args,)
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > cap for v in values):
            raise _too_big(cap)


def check_method(obj: Any, args: tuple, kwargs: dict, cap: int) -> None:
    """A call of a bound str method whose result would exceed the cap."""
    base = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(base, str):
        return
    if name in _PADDING_METHODS and args and _width(args[0]) > cap:
        raise _too_big(cap)
    if name == "expandtabs":
        size = _width(args[0] if args else kwargs.get("tabsize", 8))
        if size * base.count("\t") > cap:
            raise _too_big(cap)
    if name == "replace" and len(args) >= 2:
        check_replace(base, args[0], args[1], cap)
    if name == "join" and args:
        check_join(base, args[0], cap)


def check_replace(text: Any, old: Any, new: Any, cap: int) -> None:
    """`text.replace(old, new)` growing past the cap."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        if len(text) + hits * max(0, len(new) - len(old)) > cap:
            raise _too_big(cap)


def check_join(sep: Any, items: Any, cap: int) -> None:
    """`sep.join(items)` whose result (separators plus the items as text) would exceed the cap.

    The items may be few references to one big string (`['a' * 999999] * 2000`), so their total
    length is counted, stopping as soon as it passes the cap."""
    if not isinstance(items, Sized):
        return
    if isinstance(sep, str) and len(sep) * max(0, len(items) - 1) > cap:
        raise _too_big(cap)
    if isinstance(items, (list, tuple)):
        check_total(items, cap, extra=len(sep) * max(0, len(items) - 1) if isinstance(sep, str) else 0)


def check_total(parts: Any, cap: int, extra: int = 0) -> None:
    """Concatenating `parts` (as text) would exceed the cap: counted part by part, stopping at the cap."""
    total = extra
    for part in parts:
        total += len(part) if isinstance(part, str) else len(str(part))
        if total > cap:
            raise _too_big(cap)


def check_wordwrap(s: Any, width: Any, wrapstring: Any, cap: int) -> None:
    """`s|wordwrap(width)`: the text plus one wrap string per `width` characters, over the cap.  The wrap
    itself is Python code looping per chunk, so a large input is refused before it starts."""
    text = str(s)
    w = max(1, _width(width) or 1)
    glue = len(wrapstring) if isinstance(wrapstring, str) else 1
    if len(text) + (len(text) // w + 1) * glue > cap:
        raise _too_big(cap)


def guarded_filters(filters: dict[str, Callable], cap: int) -> dict[str, Callable]:
    """Wrappers for the built-in filters that can amplify text in one step."""
    out: dict[str, Callable] = {}
    center, indent, fmt, replace, join, wordwrap = (filters.get(k) for k in (
        "center", "indent", "format", "replace", "join", "wordwrap"))

    if center:
        def _center(value, width=80):
            if _width(width) > cap or len(str(value)) > cap:
                raise _too_big(cap)
            return center(value, width)
        out["center"] = _center
    if indent:
        def _indent(s, width=4, *args, **kwargs):
            text = str(s)
            lines = text.count("\n") + 1
            if len(text) + _width(width) * lines > cap:
                raise _too_big(cap)
            return indent(s, width, *args, **kwargs)
        out["indent"] = _indent
    if fmt:
        def _format(value, *args, **kwargs):
            check_percent(str(value), kwargs or args, cap)
            check_total([str(value), *args, *kwargs.values()], cap)
            return fmt(value, *args, **kwargs)
        out["format"] = _format
    if replace:
        def _replace(eval_ctx, s, old, new, count=None):
            check_replace(str(s), str(old), str(new), cap)
            return replace(eval_ctx, s, old, new, count)
        _replace.jinja_pass_arg = replace.jinja_pass_arg  # type: ignore[attr-defined]
        out["replace"] = _replace
    if join:
        def _join(eval_ctx, value, d="", attribute=None):
            check_join(str(d), value, cap)
            return join(eval_ctx, value, d, attribute)
        _join.jinja_pass_arg = join.jinja_pass_arg  # type: ignore[attr-defined]
        out["join"] = _join
    if wordwrap:
        def _wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
            check_wordwrap(s, width, wrapstring, cap)
            return wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)
        _wordwrap.jinja_pass_arg = wordwrap.jinja_pass_arg  # type: ignore[attr-defined]
        out["wordwrap"] = _wordwrap
    return out
