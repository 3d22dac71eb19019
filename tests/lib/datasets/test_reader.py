"""Parsing real-world dataset files: encodings, delimiters, text cells, promptfoo conventions, rejections."""

from __future__ import annotations

import json

import pytest

from lib.datasets.reader import read_file
from lib.errors import DatasetError
from tests import data_files as files


@pytest.mark.parametrize("name", sorted(files.CASES))
def test_real_world_files(name):
    data, expected = files.CASES[name]
    if isinstance(expected, tuple):
        with pytest.raises(DatasetError) as info:
            read_file(data, name)
        msg = str(info.value)
        assert msg.startswith(f"file {name}")
        for word in expected[1]:
            assert word in msg, msg
        return
    parsed = read_file(data, name)
    assert parsed.row_count == expected["rows"]
    for key in ("encoding", "delimiter", "format", "columns"):
        if key in expected:
            assert getattr(parsed, key) == expected[key]
    assert bool(parsed.warnings) == expected.get("warn", False) or name.endswith(".jsonl")
    assert all(isinstance(v, str) for row in parsed.rows for v in row.values())
    assert all(set(row) == set(parsed.columns) for row in parsed.rows)


def test_excel_csv_cells_exact():
    p = read_file(files.excel_csv_utf8(), "excel.csv")
    assert p.rows[0] == {"question": 'What is "2+2"?', "answer": "4", "notes": "line one\nline two"}
    assert p.rows[1] == {"question": "Café", "answer": "crème brûlée", "notes": "NA"}  # NA stays NA
    assert p.rows[2] == {"question": "a, b", "answer": "-5", "notes": ""}


def test_cp1252_and_latin1_decode_with_warning():
    p = read_file(files.semicolon_cp1252(), "german.csv")
    assert p.rows[0] == {"Frage": "Was kostet das?", "Antwort": "„zehn“ Euro", "Preis": "10,50 €"}
    assert p.rows[1]["Frage"] == "Œuvre"
    assert "cp1252" in p.warnings[0]
    p = read_file(files.latin1(), "latin1.csv")
    assert [r["city"] for r in p.rows] == ["São Paulo", "Zürich"]


def test_utf16_with_and_without_bom():
    p = read_file(files.utf16(), "unicode.txt")
    assert p.rows == [{"prompt": "こんにちは", "lang": "ja"}, {"prompt": "hello", "lang": "en"}]
    assert read_file(files.utf16_no_bom(), "x.csv").rows == [{"a": "x", "b": "y"}]


def test_quoted_newlines_and_delimiters_inside_quotes():
    p = read_file(files.quoted_newlines(), "q.csv")
    assert [r["text"] for r in p.rows] == ['He said "hi"\nand left', "semi;colon, comma | pipe", "ends with newline\n"]


def test_formula_looking_cells_are_plain_text():
    p = read_file(files.formula_cells(), "f.csv")
    assert p.rows[0]["input"] == '=HYPERLINK("http://evil.example","click")'
    assert p.rows[1] == {"input": "@SUM(A1:A2)", "expected": "-5"}
    assert p.rows[2]["expected"] == "=cmd|x"


def test_ragged_row_error_names_row_column_and_line():
    with pytest.raises(DatasetError) as info:
        read_file(files.short_row(), "short.csv")
    err = info.value
    assert (err.row, err.column, err.file) == (3, "c", "short.csv")
    assert "line 4" in str(err)


def test_row_numbers_count_data_rows_across_quoted_newlines():
    data = b'a,b\n1,"x\ny\nz"\n2,ok\n3\n'
    with pytest.raises(DatasetError) as info:
        read_file(data, "r.csv")
    assert info.value.row == 3 and "line 6" in str(info.value)


def test_caps():
    with pytest.raises(DatasetError, match=r"file is 1.96 KB, over the 1.02 KB cap"):
        read_file(b"a\n" + b"x\n" * 1000, "big.csv", max_bytes=1048)
    with pytest.raises(DatasetError, match="row 3: more than 2 rows"):
        read_file(b"a\n1\n2\n3\n", "rows.csv", max_rows=2)
    with pytest.raises(DatasetError, match="row cap"):
        read_file(b'{"a":1}\n{"a":2}\n{"a":3}\n', "rows.jsonl", max_rows=2)
    assert read_file(b"a\n1\n2\n", "ok.csv", max_rows=2).row_count == 2


def test_promptfoo_csv_columns():
    p = read_file(files.promptfoo_csv(), "pf.csv")
    assert p.columns == ["language", "input"]
    assert p.asserts[0] == [{"type": "icontains", "value": "bonjour"},
                            {"type": "similar", "value": "Bonjour le monde", "threshold": 0.7}]
    assert p.asserts[1] == [{"type": "equals", "value": "Danke"},
                            {"type": "contains", "value": "merci", "negate": True}]
    assert p.asserts[2] == [{"type": "is-json"}, {"type": "regex", "value": "^\\{"}]
    assert p.descriptions == ["greeting", "thanks", "json"]
    assert p.metadata == [{"topic": "small talk"}, {"topic": ""}, {"topic": "format"}]


def test_promptfoo_jsonl_and_flat_objects():
    p = read_file(files.promptfoo_jsonl(), "t.jsonl")
    assert p.columns == ["q", "ctx"]
    assert p.rows[0] == {"q": "2+2", "ctx": '{"user": {"name": "Ann"}}'}
    assert p.rows[1] == {"q": "json please", "ctx": ""}
    assert p.asserts[0] == [{"type": "equals", "value": "4"}]
    assert p.asserts[1] == [{"type": "json-schema", "value": {"type": "object"}},
                            {"type": "judge", "value": "is polite"}]
    assert p.asserts[2] == [{"type": "contains", "value": "fl"}]
    assert p.descriptions[0] == "math" and p.metadata[1] == {"k": "1"}
    assert any("lack some keys" in w for w in p.warnings)


def test_json_array_values_become_text():
    p = read_file(files.json_array(), "a.json")
    assert p.rows[0] == {"q": "a", "n": "1", "x": "", "nested": '{"k": [1, 2]}'}
    assert p.rows[1] == {"q": "b", "n": "2.5", "x": "NA", "nested": '{"k": []}'}


@pytest.mark.parametrize("data,name,words", [
    (b"[1, 2]", "a.json", ["row 1", "expected a JSON object"]),
    (b'{"a": 1}', "a.json", ["array of objects"]),
    (b'{"a":1}\n{"a":\n', "b.jsonl", ["row 2", "line 2"]),
    (b'{"vars": {"q": 1}, "assert": "contains"}\n', "c.jsonl", ["row 1", "'assert'"]),
    (b'{"vars": {"q": 1}, "assert": [{"type": "regex", "value": "("}]}\n', "d.jsonl", ["row 1", "regex"]),
    (b"q,__expected\nx,regex:(\n", "e.csv", ["row 1", "__expected", "regex"]),
    (b"[]", "e.json", ["no records"]),
])
def test_json_and_assert_errors(data, name, words):
    with pytest.raises(DatasetError) as info:
        read_file(data, name)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_format_detection_without_extension():
    assert read_file(json.dumps([{"a": "b"}]).encode(), "upload").format == "json"
    assert read_file(b'{"a":"b"}\n{"a":"c"}\n', "upload.txt").format == "jsonl"
    assert read_file(b"a;b\n1;2\n", "upload").delimiter == ";"


def test_single_column_csv_and_trailing_blank_lines():
    p = read_file(b"question\r\n\"hello, world?\"\r\nbye\r\n\r\n\r\n", "one.csv")
    assert p.columns == ["question"] and p.delimiter == ","
    assert p.rows == [{"question": "hello, world?"}, {"question": "bye"}]


def test_excel_sep_hint_line():
    p = read_file(b"sep=;\r\na;b,c\r\n1;2,3\r\n", "hint.csv")
    assert p.delimiter == ";" and p.rows == [{"a": "1", "b,c": "2,3"}]


def test_content_hash_is_of_bytes():
    a = read_file(b"a\n1\n", "x.csv").content_hash
    assert a == read_file(b"a\n1\n", "y.csv").content_hash
    assert a != read_file(b"a\n2\n", "x.csv").content_hash and len(a) == 64


@pytest.mark.parametrize("data, name, words", [
    (b"[" * 100_000 + b"]" * 100_000, "deep.json", ["nested too deeply"]),
    (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "deep.jsonl", ["line 1", "nested too deeply"]),
    (b'[{"a": ' + b"9" * 5000 + b"}]", "bigint.json", ["4300 digits"]),
    (b'{"a": "ok"}\n{"a": "x\\ud800y"}\n', "surrogate.jsonl", ["row 2", "'a'", "surrogate"]),
    (b'[{"\\udfff": "v"}]', "surrogate_key.json", ["row 1", "surrogate"]),
])
def test_hostile_json_is_a_dataset_error_not_a_crash(data, name, words):
    # RecursionError / ValueError (int digits) escaped read_file; a lone surrogate parsed but then
    # failed with UnicodeEncodeError when the row was written to SQLite or PostgreSQL.
    with pytest.raises(DatasetError) as info:
        read_file(data, name)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_a_long_cell_is_data_not_a_malformed_file():
    # one 300 KB cell (a long document to summarise) failed with "field larger than field limit (131072)"
    doc = "word " * 60_000
    parsed = read_file(f'id,doc\n1,"{doc}"\n2,short\n'.encode(), "docs.csv")
    assert parsed.row_count == 2 and parsed.rows[0]["doc"] == doc


@pytest.mark.parametrize(("data", "name"), [
    (b"q," + b"c" * 1001 + b"\n1,2\n", "long.csv"),
    (b'{"q": "1", "' + b"k" * 1001 + b'": "2"}\n', "long.jsonl"),
])
def test_a_column_name_over_1000_characters_is_refused(data, name):
    """#11 item 11: a 1,001-character column name became a variable name shown everywhere."""
    with pytest.raises(DatasetError, match="1,001 characters.*1,000") as err:
        read_file(data, name)
    assert name in str(err.value)
    assert read_file(b"q," + b"c" * 1000 + b"\n1,2\n", "ok.csv").columns[1] == "c" * 1000
