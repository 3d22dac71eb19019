"""Write results to CSV (utf-8-sig), JSONL and Parquet with spreadsheet formulas neutralised; read them back.

Neutralising: a text cell that starts with ``= + - @``, tab or CR (or their full-width forms
``＝ ＋ － ＠``, or any of them after leading spaces / newlines) gets a leading ``'`` so a
spreadsheet shows it as text instead of running it (``=HYPERLINK(...)`` stays inert).  A
cell that is a plain number (``-5``, ``+3.2``, ``-1e5``) is left alone: it is data, not a
formula, and stays a number.  To keep the round trip exact, a text cell that already
starts with one or more ``'`` before a trigger character also gets one more ``'``;
``read_back`` removes exactly one.  Numbers, booleans and nulls are never touched.

CSV has no types: ``read_back`` of a CSV turns a column whose every non-empty cell is an
integer / a float / True|False into that type, other columns stay text, and an empty cell
in a text column reads back as ``""`` (CSV cannot tell ``""`` from null).  JSONL and
Parquet keep their types.  Datetimes are written as ISO 8601 text in CSV and JSONL.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd

# ASCII triggers, then their full-width forms (East Asian spreadsheet locales read U+FF1D as "=")
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# spreadsheets skip these before deciding a cell is a formula, so " =cmd" and "\n=cmd" are live too
_LEADING_BLANKS = " \n\u00a0\u3000"
FORMATS = ("csv", "jsonl", "parquet")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
Dest = str | Path | IO[bytes]


def neutralise(value: Any) -> Any:
    """A text cell made safe for spreadsheets (see the module docstring); other types unchanged."""
    if not isinstance(value, str) or not value:
        return value
    core = value.lstrip("'")
    if _risky(core) and (core != value or not _NUMBER.match(core.strip(_LEADING_BLANKS))):
        return "'" + value
    return value


def _risky(core: str) -> bool:
    first = core.lstrip(_LEADING_BLANKS)[:1]
    return bool(first) and first in TRIGGERS


def restore(value: Any) -> Any:
    """Undo `neutralise` on one cell."""
    if isinstance(value, str) and value.startswith("'"):
        core = value.lstrip("'")
        if _risky(core):
            return value[1:]
    return value


def to_frame(data: pd.DataFrame | Iterable[dict]) -> pd.DataFrame:
    """A DataFrame from a frame or an iterable of dicts (column order: first appearance)."""
    if isinstance(data, pd.DataFrame):
        return data
    return pd.DataFrame.from_records(list(data))


def _safe_frame(data: pd.DataFrame | Iterable[dict]) -> pd.DataFrame:
    frame = to_frame(data).copy()
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            frame[col] = s.map(neutralise, na_action="ignore")
    frame.columns = [neutralise(str(c)) for c in frame.columns]
    return frame


def _json_default(o: Any) -> Any:
    if isinstance(o, (datetime, date, pd.Timestamp)):
        return o.isoformat()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _open(dest: Dest, mode: str = "wb"):
    if isinstance(dest, (str, Path)):
        return open(dest, mode)  # closed by the caller's `with`
    return _NoClose(dest)


class _NoClose:
    """Lets `with` write to a caller's buffer without closing it."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f

    def __enter__(self) -> IO[bytes]:
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.flush()


def write_csv(data: pd.DataFrame | Iterable[dict], dest: Dest) -> None:
    """CSV in utf-8-sig (Excel opens it as UTF-8), CRLF rows (RFC 4180), formulas neutralised."""
    frame = _safe_frame(data)
    # CRLF also makes the writer quote cells holding a bare CR, which "\n" alone would not
    text = frame.to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    with _open(dest) as f:
        f.write(text.encode("utf-8-sig"))


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if v is pd.NaT or (not isinstance(v, (str, bytes, list, dict)) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return None
    return v


def write_jsonl(data: pd.DataFrame | Iterable[dict], dest: Dest) -> None:
    """One JSON object per line (UTF-8), formulas neutralised in text values; NaN becomes null."""
    frame = _safe_frame(data)
    cols = list(frame.columns)
    with _open(dest) as f:
        for rec in frame.itertuples(index=False, name=None):
            obj = {c: _clean(v) for c, v in zip(cols, rec, strict=True)}
            f.write((json.dumps(obj, ensure_ascii=False, default=_json_default) + "\n").encode("utf-8"))


def write_parquet(data: pd.DataFrame | Iterable[dict], dest: Dest) -> None:
    """Parquet (pyarrow), formulas neutralised in text columns."""
    _safe_frame(data).to_parquet(dest, index=False, engine="pyarrow")


def write(data: pd.DataFrame | Iterable[dict], dest: Dest, fmt: str) -> None:
    """Write in `fmt` (csv | jsonl | parquet)."""
    writers = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    writers[fmt](data, dest)


def to_bytes(data: pd.DataFrame | Iterable[dict], fmt: str) -> bytes:
    """The export as bytes (for a download button)."""
    buf = io.BytesIO()
    write(data, buf, fmt)
    return buf.getvalue()


MIME = {"csv": "text/csv", "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


# ---------------------------------------------------------------- reading back

def _typed_text_column(s: pd.Series) -> pd.Series:
    vals = [v for v in s if v != ""]
    if not vals:
        return s
    if all(re.fullmatch(r"[+-]?\d+", v) for v in vals):
        out = pd.to_numeric(s.replace("", None))
        return out.astype("Int64") if (s == "").any() else out.astype("int64")
    if all(_NUMBER.match(v) or v in ("nan", "inf", "-inf") for v in vals):
        return pd.to_numeric(s.replace("", None)).astype("float64")
    if all(v in ("True", "False") for v in vals):
        return s.map({"True": True, "False": False, "": None})
    return s


def _fmt_of(path: str | Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(str(path)).suffix.lower().lstrip(".")
    return {"ndjson": "jsonl", "pq": "parquet"}.get(suffix, suffix)


def read_back(path: str | Path | IO[bytes], fmt: str | None = None) -> pd.DataFrame:
    """Read an export (csv | jsonl | parquet) into a DataFrame, undoing the neutralisation."""
    fmt = _fmt_of(path if not hasattr(path, "read") else "", fmt)
    if fmt == "csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except pd.errors.EmptyDataError:  # an export of no rows and no columns
            return pd.DataFrame()
        frame.columns = [restore(c) for c in frame.columns]
        for col in frame.columns:
            frame[col] = _typed_text_column(frame[col].map(restore))
        return frame
    if fmt == "jsonl":
        if hasattr(path, "read"):
            raw = path.read()  # type: ignore[union-attr]
            lines = (raw.decode("utf-8") if isinstance(raw, bytes) else raw).splitlines()
        else:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        records = [{restore(k): restore(v) for k, v in json.loads(line).items()} for line in lines if line.strip()]
        return pd.DataFrame.from_records(records)
    if fmt == "parquet":
        frame = pd.read_parquet(path, engine="pyarrow")
        frame.columns = [restore(c) for c in frame.columns]
        for col in frame.columns:
            if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col].dtype):
                frame[col] = frame[col].map(restore, na_action="ignore")
        return frame
    raise ValueError(f"cannot tell the export format of {path!r}; pass fmt= csv, jsonl or parquet")
