"""Dataset files to rows of text: decoding, delimiter sniffing, parsing, promptfoo columns.

Pure functions, no database.  Every cell comes back as ``str`` (``"NA"`` stays ``"NA"``,
an empty cell is ``""``); JSON/JSONL values that are not strings become JSON text.

Decoding order: a BOM (UTF-8, UTF-16, UTF-32), then strict UTF-8, then BOM-less UTF-16
(detected from the NUL pattern), then cp1252 with a warning (bytes cp1252 leaves
undefined fall back to latin-1, so nothing is lost).

Row numbers in errors are DATA row numbers (1 = the first row under the header), the
same numbers stored in ``DatasetRow.idx``; for CSV the physical line is added too.

promptfoo conventions (CSV columns and flat JSON keys): ``__expected``, ``__expected1..n``
(assertions, bare value = equals), ``__description``, ``__metadata:KEY`` (or
``__metadata`` holding a JSON object) are not variables; JSONL/JSON test cases shaped
``{"vars": {...}, "assert": [...], "description": ..., "metadata": {...}}`` are read too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from lib.errors import DatasetError
from lib.evals import parse_expected, spec_from_dict

from .decoding import decode

MAX_BYTES = 25 * 2**20
MAX_ROWS = 100_000
MAX_COLUMN_NAME = 1_000  # characters; a column name becomes a variable name shown in every screen
DELIMITERS = (",", ";", "\t", "|")
FORMATS = ("csv", "tsv", "jsonl", "json")

_EXPECTED = re.compile(r"^__expected\d*$")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(text: str) -> Any:
    """json.loads, with nesting too deep and integers too long reported as JSONDecodeError-like ValueError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal over Python's 4,300-digit limit
        raise ValueError(str(exc).split(";")[0]) from None


@dataclass
class ParsedDataset:
    """A parsed file: variable columns, rows of text, per-row asserts/description/metadata."""

    columns: list[str]
    rows: list[dict[str, str]]
    asserts: list[list[dict]]
    descriptions: list[str | None]
    metadata: list[dict]
    encoding: str
    delimiter: str | None
    format: str
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""
    filename: str = ""

    @property
    def row_count(self) -> int:
        """Number of data rows."""
        return len(self.rows)


def content_hash(data: bytes) -> str:
    """SHA-256 of the raw file bytes (what makes two uploads 'the same dataset')."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- format / delimiter

def detect_format(filename: str, text: str) -> str:
    """csv | tsv | jsonl | json, from the extension, else from the first character."""
    ext = PurePath(filename).suffix.lower().lstrip(".")
    if ext in ("jsonl", "ndjson"):
        return "jsonl"
    if ext == "json":
        head = text.lstrip()[:1]
        return "jsonl" if head == "{" and _is_jsonl(text) else "json"
    if ext == "tsv" or ext == "tab":
        return "tsv"
    if ext in ("csv", "txt", ""):
        head = text.lstrip()[:1]
        if ext != "csv" and head == "[":
            return "json"
        if ext != "csv" and head == "{":
            return "jsonl"
        return "csv"
    return "csv"


def _is_jsonl(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0].strip()
    try:
        return isinstance(json.loads(first), dict) and first != text.strip()
    except json.JSONDecodeError:
        return False


def sniff_delimiter(text: str, fmt: str = "csv") -> str:
    """The delimiter (, ; tab |) that splits the first records into the most, equal-width fields."""
    if fmt == "tsv":
        return "\t"
    sample = text[:65536]
    cut = sample.rfind("\n")
    if 0 < cut < len(text) - 1:
        sample = sample[:cut]
    best, best_key = ",", (False, 1)
    for delim in DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(sample), delimiter=delim)
            records = [r for _, r in zip(range(50), reader, strict=False) if r]
        except csv.Error:
            continue
        if not records:
            continue
        widths = {len(r) for r in records}
        width = len(records[0])
        key = (len(widths) == 1 and width > 1, width if len(widths) == 1 else 1)
        if key > best_key:
            best, best_key = delim, key
    return best


# ---------------------------------------------------------------- special columns

def is_special(column: str) -> bool:
    """True for promptfoo columns that are not template variables (__expected, __description...)."""
    return column.startswith("__") and (bool(_EXPECTED.match(column)) or column == "__description"
                                        or column == "__metadata" or column.startswith("__metadata:"))


def expected_to_assert(cell: str) -> dict:
    """A promptfoo `__expected` cell to an assertion dict (bare value = equals)."""
    return parse_expected(cell).to_dict()


def _split_special(record: dict[str, str], row: int, filename: str) -> tuple[list[dict], str | None, dict]:
    asserts: list[dict] = []
    description: str | None = None
    meta: dict = {}
    for col, val in record.items():
        if _EXPECTED.match(col):
            if val.strip():
                try:
                    asserts.append(expected_to_assert(val))
                except ValueError as exc:
                    raise DatasetError(str(exc), row=row, column=col, file=filename) from None
        elif col == "__description":
            description = val or None
        elif col == "__metadata":
            if val.strip():
                try:
                    obj = json.loads(val)
                except json.JSONDecodeError:
                    obj = None
                if not isinstance(obj, dict):
                    raise DatasetError("__metadata must be a JSON object", row=row, column=col, file=filename)
                meta.update({k: _cell(v) for k, v in obj.items()})
        elif col.startswith("__metadata:"):
            meta[col.split(":", 1)[1]] = val
    return asserts, description, meta


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------- parsers

def _check_name_length(name: str, where: str, filename: str, row: int | None = None) -> None:
    if len(name) > MAX_COLUMN_NAME:
        raise DatasetError(f"{where}: the column name is {len(name):,} characters, over the "
                           f"{MAX_COLUMN_NAME:,} limit", row=row, column=name[:40] + "...", file=filename)


def _check_header(header: list[str], filename: str) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(header, start=1):
        name = raw.strip()
        if not name:
            raise DatasetError(f"header (line 1): column {i} has a blank name; every column needs one",
                               file=filename)
        _check_name_length(name, f"header (line 1): column {i}", filename)
        if name.casefold() in seen:
            raise DatasetError(f"header (line 1): duplicate column name (columns {seen[name.casefold()]} and {i})",
                               column=name, file=filename)
        seen[name.casefold()] = i
        out.append(name)
    return out


def _parse_csv(text: str, delimiter: str, filename: str, max_rows: int) -> tuple[list[str], list[dict]]:
    # the csv module's default 128 KB per field rejected a legitimate long document cell as "malformed";
    # the file size cap is the real bound
    csv.field_size_limit(max(csv.field_size_limit(), MAX_BYTES))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)  # skip leading blank lines
        if header is None:
            raise DatasetError("the file is empty (no header, no rows)", file=filename)
        columns = _check_header(header, filename)
        width = len(columns)
        rows: list[dict] = []
        for rec in reader:
            if not rec or (len(rec) == 1 and not rec[0].strip() and width > 1):
                continue  # blank line (e.g. a trailing newline)
            n = len(rows) + 1
            if len(rec) != width:
                col = columns[len(rec)] if len(rec) < width else f"(extra field {width + 1})"
                raise DatasetError(f"has {len(rec)} field(s) but the header has {width} (line {reader.line_num}); "
                                   "check the delimiter and quoting", row=n, column=col, file=filename)
            if n > max_rows:
                raise DatasetError(f"more than {max_rows:,} rows (the row cap)", row=n, file=filename)
            rows.append(dict(zip(columns, rec, strict=True)))
    except csv.Error as exc:
        raise DatasetError(f"malformed CSV near line {reader.line_num}: {exc}", file=filename) from None
    return columns, rows


def _records_from_objects(objs: list[Any], filename: str, where: str) -> tuple[list[str], list[dict], list]:
    """Flat objects or promptfoo test cases to (columns, rows, extra) where extra = (asserts, desc, meta)."""
    columns: dict[str, None] = {}
    rows: list[dict] = []
    extra: list[tuple[list[dict], str | None, dict]] = []
    for n, obj in enumerate(objs, start=1):
        if not isinstance(obj, dict):
            raise DatasetError(f"expected a JSON object, got {type(obj).__name__}", row=n, file=filename)
        if isinstance(obj.get("vars"), dict) and set(obj) <= {"vars", "assert", "description", "metadata",
                                                              "options", "threshold"}:
            record = {str(k): _cell(v) for k, v in obj["vars"].items()}
            asserts = obj.get("assert") or []
            if not isinstance(asserts, list) or not all(isinstance(a, dict) for a in asserts):
                raise DatasetError("'assert' must be a list of objects", row=n, column="assert", file=filename)
            meta = obj.get("metadata") or {}
            if not isinstance(meta, dict):
                raise DatasetError("'metadata' must be an object", row=n, column="metadata", file=filename)
            extra.append(([_norm_assert(a, n, filename) for a in asserts], _cell(obj.get("description")) or None,
                          {str(k): _cell(v) for k, v in meta.items()}))
        else:
            record = {str(k): _cell(v) for k, v in obj.items()}
            plain = {k: v for k, v in record.items() if not is_special(k)}
            extra.append(_split_special({k: v for k, v in record.items() if is_special(k)}, n, filename))
            record = plain
        for k, v in record.items():
            if not k.strip():
                raise DatasetError("blank key; every field needs a name", row=n, file=filename)
            if k not in columns:
                _check_name_length(k, "key", filename, row=n)
            if not (k.isascii() and v.isascii()) and (_SURROGATE.search(k) or _SURROGATE.search(v)):
                # a lone "\\ud800" escape: valid JSON, but no database can store it as text
                raise DatasetError("invalid unicode escape (a lone surrogate \\ud800-\\udfff)", row=n,
                                   column=k, file=filename)
            columns.setdefault(k, None)
        rows.append(record)
    return list(columns), rows, extra


def _norm_assert(a: dict, row: int, filename: str) -> dict:
    try:
        return spec_from_dict(a).to_dict()
    except ValueError as exc:
        raise DatasetError(str(exc), row=row, column="assert", file=filename) from None


def _parse_jsonl(text: str, filename: str, max_rows: int) -> list[Any]:
    objs: list[Any] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(objs) >= max_rows:
            raise DatasetError(f"more than {max_rows:,} rows (the row cap)", row=len(objs) + 1, file=filename)
        try:
            objs.append(_loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"invalid JSON on line {lineno}: {exc.msg} (char {exc.colno})",
                               row=len(objs) + 1, file=filename) from None
        except ValueError as exc:
            raise DatasetError(f"invalid JSON on line {lineno}: {exc}", row=len(objs) + 1, file=filename) from None
    return objs


def _parse_json(text: str, filename: str, max_rows: int) -> list[Any]:
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                           file=filename) from None
    except ValueError as exc:
        raise DatasetError(f"invalid JSON: {exc}", file=filename) from None
    if isinstance(data, dict) and isinstance(data.get("tests"), list):
        data = data["tests"]
    if not isinstance(data, list):
        raise DatasetError("a JSON dataset must be an array of objects", file=filename)
    if len(data) > max_rows:
        raise DatasetError(f"more than {max_rows:,} rows (the row cap)", row=max_rows + 1, file=filename)
    return data


# ---------------------------------------------------------------- entry point

def human_size(n: int) -> str:
    """Bytes as '25 MB', '1.5 KB' or '900 bytes'."""
    if n >= 2**20:
        return f"{n / 2**20:.3g} MB"
    return f"{n / 2**10:.3g} KB" if n >= 2**10 else f"{n} bytes"


def read_file(data: bytes, filename: str, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> ParsedDataset:
    """Parse an uploaded file (CSV/TSV/JSONL/JSON) into text rows; DatasetError names file, row, column."""
    name = PurePath(filename or "upload").name
    if len(data) > max_bytes:
        raise DatasetError(f"file is {human_size(len(data))}, over the {human_size(max_bytes)} cap", file=name)
    if not data.strip():
        raise DatasetError("the file is empty", file=name)
    text, encoding, warnings = decode(data, name)
    if not text.strip():
        raise DatasetError("the file is empty", file=name)
    fmt = detect_format(name, text)
    delimiter = None
    if fmt in ("csv", "tsv"):
        hint = re.match(r"sep=(.)\r?\n", text)  # Excel's "sep=;" first line
        if hint:
            delimiter, text = hint.group(1), text[hint.end():]
        else:
            delimiter = sniff_delimiter(text, fmt)
        if delimiter == "\t":
            fmt = "tsv"
        all_columns, raw_rows = _parse_csv(text, delimiter, name, max_rows)
        del text
        specials = [c for c in all_columns if is_special(c)]
        columns = [c for c in all_columns if not is_special(c)]
        if not columns:
            raise DatasetError("header (line 1): no variable columns, only promptfoo __ columns", file=name)
        if not raw_rows:
            raise DatasetError("the file has a header but no data rows", row=1, file=name)
        asserts, descriptions, metadata = [], [], []
        if specials:
            for n, rec in enumerate(raw_rows, start=1):
                a, d, m = _split_special({c: rec.pop(c) for c in specials}, n, name)
                asserts.append(a)
                descriptions.append(d)
                metadata.append(m)
        else:
            asserts = [[] for _ in raw_rows]
            descriptions = [None] * len(raw_rows)
            metadata = [{} for _ in raw_rows]
        rows = raw_rows
    else:
        objs = _parse_jsonl(text, name, max_rows) if fmt == "jsonl" else _parse_json(text, name, max_rows)
        del text
        if not objs:
            raise DatasetError("the file has no records", file=name)
        columns, rows, extra = _records_from_objects(objs, name, fmt)
        del objs
        if not columns:
            raise DatasetError("no variable columns in the records", file=name)
        missing = 0
        for rec in rows:
            if len(rec) != len(columns):
                missing += 1
                for c in columns:
                    rec.setdefault(c, "")
        if missing:
            warnings.append(f"{missing} record(s) lack some keys; those cells are empty")
        asserts = [e[0] for e in extra]
        descriptions = [e[1] for e in extra]
        metadata = [e[2] for e in extra]
    return ParsedDataset(columns=columns, rows=rows, asserts=asserts, descriptions=descriptions,
                         metadata=metadata, encoding=encoding, delimiter=delimiter, format=fmt,
                         warnings=warnings, content_hash=content_hash(data), filename=name)
