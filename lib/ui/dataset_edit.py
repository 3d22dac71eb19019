"""Dataset rows <-> the table `st.data_editor` edits, and a History/Compare answer as a new dataset row.

No Streamlit here. The table has a read-only `(row)` column (the stored row number; empty for a row
the user added), one column per dataset column, and `__expected`: an expectation to add to that
row (promptfoo syntax: `contains:x`, a bare value means equals). A row keeps its stored
expectations; deleting it from the table drops them with it.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from lib.errors import ValidationError
from lib.evals import parse_expected

ROW = "(row)"  # not a plausible dataset column name
EXPECTED_COLUMN = "__expected"
MAX_EDIT_ROWS = 5000


def editor_frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    """Stored rows (DatasetRow-like: idx, data) as the editable table, every cell text."""
    data = [{ROW: r.idx, **{c: str((r.data or {}).get(c, "")) for c in columns}, EXPECTED_COLUMN: ""} for r in rows]
    frame = pd.DataFrame(data, columns=[ROW, *columns, EXPECTED_COLUMN])
    return frame.astype({c: "string" for c in [*columns, EXPECTED_COLUMN]})


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return str(v)


def rows_from_frame(frame: pd.DataFrame, rows: list[Any], columns: list[str]) -> list[dict[str, Any]]:
    """The edited table back to revision rows ({data, asserts, description, meta}); ValueError names the row."""
    by_idx = {r.idx: r for r in rows}
    out: list[dict[str, Any]] = []
    for n, rec in enumerate(frame.to_dict("records"), start=1):
        data = {c: _text(rec.get(c)) for c in columns}
        expected = _text(rec.get(EXPECTED_COLUMN)).strip()
        if not any(data.values()) and not expected:
            continue  # an empty row the editor added
        src = by_idx.get(int(rec[ROW])) if _text(rec.get(ROW)) else None
        asserts = list(src.asserts or []) if src is not None else []
        if expected:
            try:
                asserts.append(parse_expected(expected).to_dict())
            except ValueError as exc:
                raise ValidationError(f"table row {n}, column {EXPECTED_COLUMN}: {exc}") from None
        out.append({"data": data, "asserts": asserts, "description": src.description if src is not None else None,
                    "meta": dict(src.meta or {}) if src is not None else {}})
    return out


def row_from_answer(variables: dict[str, Any], answer: str | None, use_answer: bool) -> dict[str, Any]:
    """A History record or Compare column as a dataset row; the answer as an equals expectation if chosen."""
    data = {str(k): v if isinstance(v, str) else "" if v is None else str(v) for k, v in (variables or {}).items()}
    if not data:
        raise ValidationError("this answer has no variables to store as a dataset row")
    asserts = [{"type": "equals", "value": answer}] if use_answer and answer else []
    return {"data": data, "asserts": asserts}
