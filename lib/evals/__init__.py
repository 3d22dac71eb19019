"""Evaluators: the spec grammar (`contains:x`, promptfoo `assert` dicts) and scoring, used by every mode.
"""

from __future__ import annotations

from .evaluators import (
    ASYNC_TYPES,
    NEEDS_CLIENT,
    EvalResult,
    check,
    coerce,
    evaluate,
    parse_expected,
    parse_spec,
    spec_from_dict,
    specs_for_row,
    summarise,
)

__all__ = [
    "ASYNC_TYPES",
    "EvalResult",
    "NEEDS_CLIENT",
    "check",
    "coerce",
    "evaluate",
    "parse_expected",
    "parse_spec",
    "spec_from_dict",
    "specs_for_row",
    "summarise",
]
