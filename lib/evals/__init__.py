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
from .specs import PASS_FAIL_TYPES, SCORE_SCALE, scale_of

__all__ = [
    "ASYNC_TYPES",
    "EvalResult",
    "NEEDS_CLIENT",
    "PASS_FAIL_TYPES",
    "SCORE_SCALE",
    "check",
    "coerce",
    "evaluate",
    "parse_expected",
    "parse_spec",
    "scale_of",
    "spec_from_dict",
    "specs_for_row",
    "summarise",
]
