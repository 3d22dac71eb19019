"""Shared CLI plumbing: JSON or human output, and one-line errors with exit code 2."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer

from lib.errors import WorkbenchError

JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON output.")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    return str(o)


def emit(data: Any, as_json: bool, human: str | Callable[[], str] | None = None) -> None:
    """Print `data` as JSON when asked, else the human text (or JSON if none is given)."""
    if as_json or human is None:
        typer.echo(json.dumps(data, default=_default, ensure_ascii=False, indent=None if as_json else 2))
    else:
        typer.echo(human() if callable(human) else human)


def fail(message: str, code: int = 2) -> None:
    """Exit with a one-line error on stderr (never a traceback)."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


def handle_errors(fn: Callable) -> Callable:
    """Turn WorkbenchError (and bad values) into `fail()`; other crashes still exit non-zero, one line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            check_arguments(kwargs)
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            fail(f"{exc.filename}: {exc.strerror.lower() if exc.strerror else type(exc).__name__}")
        except (WorkbenchError, ValueError, FileNotFoundError, json.JSONDecodeError) as exc:
            fail(str(exc))
        except RecursionError:  # json.loads of '[' * 100000, a deeply nested file
            fail("input nested too deeply (JSON or template): flatten it")
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:  # last resort: one line, no traceback, no secrets in the type name
            print(f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_arguments(values: dict[str, Any]) -> None:
    """Refuse an argument that is not valid UTF-8 (Python passes such bytes as lone surrogates), before any
    work: it would be sent to a provider and then fail to be stored."""
    for name, value in values.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and _has_surrogate(item):
                raise ValueError(f"--{name.replace('_', '-')}: argument is not valid UTF-8")


def parse_pairs(items: list[str] | None, what: str = "--var") -> dict[str, Any]:
    """`k=v` pairs to a dict; a value that parses as JSON object/array/number stays typed only for params."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        if not k.strip():
            raise ValueError(f"{what} {item!r}: empty name")
        out[k.strip()] = v
    return out


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """`--param k=v`: values parsed as JSON when they are (0.2, 100, true, ["x"]), else text."""
    out = parse_pairs(items, "--param")
    for k, v in out.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            pass
    return out
