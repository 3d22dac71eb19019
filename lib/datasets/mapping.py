"""Column mapping: dataset columns -> template variables, preview and lint before a batch.

Matching ignores case and separators (space, `_`, `-`, `.`): column "User Name" feeds
`{{user_name}}`.  A mapping is `{variable: column | None}`; `None` = unmapped.

Dotted variables: `{{user.name}}` takes column "user.name" (or "User Name"...) when one
exists; otherwise, if a column matches the head ("user"), its cell is read as a JSON
object and `name` is taken from it (a mapping `{"user.name": "user"}` means exactly that).

Token estimates use `count_messages` (tiktoken, offline: an estimate).
Context windows come from the bundled genai-prices table unless given explicitly.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from genai_prices import data
from rapidfuzz import fuzz, process

from lib.errors import ValidationError, WorkbenchError
from lib.prompts import as_text, count_messages, render, walk

_SEP = re.compile(r"[\s_\-.]+")
LINT_SAMPLE_ROWS = 3  # row numbers listed per issue


def norm(name: str) -> str:
    """A name folded for matching: case and separators ignored."""
    return _SEP.sub("", name).casefold()


def auto_map(columns: list[str], variables: list[str]) -> dict[str, str | None]:
    """Best column for each variable: exact name, then folded name, then the JSON head of a dotted name."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(norm(c), c)
    out: dict[str, str | None] = {}
    for var in variables:
        if var in columns:
            out[var] = var
        elif norm(var) in by_norm:
            out[var] = by_norm[norm(var)]
        elif "." in var and norm(var.split(".", 1)[0]) in by_norm:
            out[var] = by_norm[norm(var.split(".", 1)[0])]
        else:
            out[var] = None
    return out


SUGGEST_CUTOFF = 80.0  # rapidfuzz WRatio score (0-100) a column needs to be offered for a variable


def suggest_columns(columns: list[str], variables: list[str]) -> dict[str, str]:
    """For each variable auto_map leaves unmapped, the closest free column by name ('customer_company' for
    {{company}}), when it is close enough; a suggestion only, the person confirms it."""
    mapped = auto_map(columns, variables)
    free = [c for c in columns if c not in set(mapped.values())]
    out: dict[str, str] = {}
    for var in variables:
        if mapped.get(var) is not None or not free:
            continue
        best = process.extractOne(norm(var), {c: norm(c) for c in free}, scorer=fuzz.WRatio,
                                  score_cutoff=SUGGEST_CUTOFF)
        if best is not None:
            out[var] = best[2]
            free.remove(best[2])
    return out


def cell_value(var: str, column: str, cell: str) -> tuple[bool, str]:
    """The value `var` takes from `column`'s cell: the cell, or a JSON path into it for a dotted head."""
    if "." not in var or norm(var) == norm(column):
        return True, cell
    head, rest = var.split(".", 1)
    if norm(head) != norm(column):
        return True, cell
    try:
        obj = json.loads(cell)
    except (json.JSONDecodeError, TypeError):
        return False, ""
    ok, val = walk(obj, rest.split("."))
    return ok, as_text(val) if ok else ""


def row_values(row_data: dict[str, str], mapping: dict[str, str | None]) -> dict[str, str]:
    """Variables for templating from one row; unmapped or unreachable variables are left out."""
    out: dict[str, str] = {}
    for var, col in mapping.items():
        if col is None or col not in row_data:
            continue
        ok, val = cell_value(var, col, row_data[col])
        if ok:
            out[var] = val
    return out


def validate(mapping: dict[str, str | None], columns: list[str]) -> None:
    """Raise ValidationError if the mapping names a column the dataset does not have."""
    bad = [f"{v}={c}" for v, c in mapping.items() if c is not None and c not in columns]
    if bad:
        raise ValidationError(f"mapping names unknown column(s): {', '.join(bad)}; columns are: {', '.join(columns)}")


# ---------------------------------------------------------------- tokens / context window

def estimate_tokens(messages: list[dict]) -> int:
    """Estimated input tokens of chat messages (tiktoken, offline)."""
    return count_messages(messages)


@functools.lru_cache(maxsize=256)
def context_window(model: str | None) -> int | None:
    """The context window (tokens) of `endpoint/model` or `model` from genai-prices, or None if unknown."""
    if not model:
        return None
    name = model.split("/", 1)[1] if "/" in model else model
    windows = [m.context_window for p in data.providers for m in p.models
               if m.context_window and m.is_match(name)]
    return max(windows) if windows else None


# ---------------------------------------------------------------- preview and lint

@dataclass
class PreviewItem:
    """One rendered row: messages, or the error that stops it."""

    row_idx: int
    values: dict[str, str]
    messages: list[dict] | None = None
    error: str | None = None
    tokens: int | None = None


def preview(version: Any, rows: Iterable[Any], mapping: dict[str, str | None], n: int = 3) -> list[PreviewItem]:
    """Render the first `n` rows (DatasetRow or dicts) with the mapping; errors are shown, not raised."""
    items: list[PreviewItem] = []
    for i, row in enumerate(rows, start=1):
        if len(items) >= n:
            break
        idx, data = _row(row, i)
        values = row_values(data, mapping)
        try:
            msgs = render(version, values)
            items.append(PreviewItem(idx, values, msgs, tokens=estimate_tokens(msgs)))
        except WorkbenchError as exc:
            items.append(PreviewItem(idx, values, error=str(exc)))
    return items


def _row(row: Any, i: int) -> tuple[int, dict]:
    if isinstance(row, dict):
        return i, row
    return int(getattr(row, "idx", i)), dict(getattr(row, "data", {}) or {})


@dataclass
class LintIssue:
    """A problem found before running: level error|warning|info, a code, a message, where."""

    level: str
    code: str  # missing_variable | unknown_column | unused_column | empty_cells | too_long | render_error | no_window
    message: str
    variable: str | None = None
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    count: int = 0


def _rows_text(rows: list[int], count: int) -> str:
    shown = ", ".join(str(r) for r in rows)
    return f"row {shown}" + (f" and {count - len(rows)} more" if count > len(rows) else "") if rows else ""


def lint(*, columns: list[str], variables: list[str], mapping: dict[str, str | None],
         rows: Iterable[Any] = (), version: Any = None, models: list[str] | None = None,
         context_windows: dict[str, int] | None = None, max_output_tokens: int = 0) -> list[LintIssue]:
    """Check a mapping over the rows: missing variables, unknown/unused columns, empty cells, too-long rows.

    `rows` are DatasetRow objects or dicts (all of them are scanned once); `version` enables
    render checks and token estimates against each model's context window (from
    `context_windows` or genai-prices) minus `max_output_tokens`.
    """
    issues = _mapping_issues(columns, variables, mapping)
    windows: dict[str, int] = {}
    for m in models or []:
        w = (context_windows or {}).get(m) or context_window(m)
        if w:
            windows[m] = w
        elif version is not None:
            issues.append(LintIssue("info", "no_window", f"context window of {m} unknown: length not checked"))
    limit = min(windows.values()) - max_output_tokens if windows else None
    scan = _scan_rows(rows, columns, mapping, version, limit)
    return issues + _row_issues(scan, limit, windows)


def _mapping_issues(columns: list[str], variables: list[str], mapping: dict[str, str | None]) -> list[LintIssue]:
    """Variables with no column, columns that do not exist, columns nothing uses."""
    issues: list[LintIssue] = []
    for var in variables:
        if mapping.get(var) is None:
            issues.append(LintIssue("error", "missing_variable", f"variable {{{{{var}}}}} has no column", var))
    for var, col in mapping.items():
        if col is not None and col not in columns:
            issues.append(LintIssue("error", "unknown_column", f"variable {{{{{var}}}}} maps to unknown column "
                                    f"{col!r}", var, col))
    used = {c for c in mapping.values() if c is not None}
    for col in columns:
        if col not in used:
            issues.append(LintIssue("info", "unused_column", f"column {col!r} is not used by the template",
                                    column=col))
    return issues


@dataclass
class _Scan:
    """What one pass over the rows found, by (variable, column) or message: the row numbers."""

    empty: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    unreachable: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    render_errors: dict[str, list[int]] = field(default_factory=dict)
    long_rows: list[tuple[int, int]] = field(default_factory=list)  # (row, estimated tokens)


def _scan_rows(rows: Iterable[Any], columns: list[str], mapping: dict[str, str | None], version: Any,
               limit: int | None) -> _Scan:
    """One pass: empty and unreadable cells; with a version, render errors and rows over `limit` tokens."""
    scan = _Scan()
    pairs = [(v, c) for v, c in mapping.items() if c is not None and c in columns]
    for i, row in enumerate(rows, start=1):
        idx, data = _row(row, i)
        for var, col in pairs:
            cell = data.get(col, "")
            if not cell.strip():
                scan.empty.setdefault((var, col), []).append(idx)
            elif not cell_value(var, col, cell)[0]:
                scan.unreachable.setdefault((var, col), []).append(idx)
        if version is None:
            continue
        try:
            msgs = render(version, row_values(data, mapping))
        except WorkbenchError as exc:
            scan.render_errors.setdefault(str(exc), []).append(idx)
            continue
        if limit is not None:
            chars = sum(len(str(m.get("content", ""))) for m in msgs)
            if chars * 3 >= limit:  # below that no tokenizer can exceed the limit: skip the count
                est = estimate_tokens(msgs)
                if est > limit:
                    scan.long_rows.append((idx, est))
    return scan


def _row_issues(scan: _Scan, limit: int | None, windows: dict[str, int]) -> list[LintIssue]:
    """The scan's findings as issues, each naming its first rows and how many there are."""
    n = LINT_SAMPLE_ROWS
    issues: list[LintIssue] = []
    for (var, col), rs in scan.empty.items():
        issues.append(LintIssue("warning", "empty_cells", f"column {col!r} (for {{{{{var}}}}}) is empty in "
                                f"{len(rs)} row(s): {_rows_text(rs[:n], len(rs))}", var, col, rs[:n], len(rs)))
    for (var, col), rs in scan.unreachable.items():
        issues.append(LintIssue("error", "bad_json_path", f"{{{{{var}}}}} cannot be read from column {col!r} "
                                f"(not a JSON object with that key) in {len(rs)} row(s): "
                                f"{_rows_text(rs[:n], len(rs))}", var, col, rs[:n], len(rs)))
    for msg, rs in scan.render_errors.items():
        issues.append(LintIssue("error", "render_error", f"{msg} ({_rows_text(rs[:n], len(rs))})",
                                rows=rs[:n], count=len(rs)))
    if scan.long_rows:
        worst = max(t for _, t in scan.long_rows)
        rs = [r for r, _ in scan.long_rows]
        issues.append(LintIssue("error", "too_long", f"{len(rs)} row(s) exceed the context window "
                                f"({limit:,} tokens for {', '.join(windows)}; largest ~{worst:,}): "
                                f"{_rows_text(rs[:n], len(rs))}", rows=rs[:n], count=len(rs)))
    return issues


def has_errors(issues: list[LintIssue]) -> bool:
    """True if any issue should block a run."""
    return any(i.level == "error" for i in issues)
