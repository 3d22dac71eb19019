"""Real-world dataset files, made by code: what Excel, Windows tools and scripts actually produce.

Each function returns the file's bytes; `CASES` maps a filename to (bytes, expectation) for
the parametrised tests.  `big_csv(n)` makes the 100,000-row file for the import test and
the memory benchmark.
"""

from __future__ import annotations

import json

QUESTIONS = ["What is 2+2?", "Café au lait — combien?", "Naïve résumé", "NA", "", "=1+1"]


def excel_csv_utf8() -> bytes:
    """Excel 'CSV UTF-8 (Comma delimited)': BOM, CRLF, quotes doubled, in-cell newline as LF."""
    text = ('question,answer,notes\r\n'
            '"What is ""2+2""?",4,"line one\nline two"\r\n'
            'Café,crème brûlée,NA\r\n'
            '"a, b",-5,\r\n')
    return b"\xef\xbb\xbf" + text.encode("utf-8")


def semicolon_cp1252() -> bytes:
    """German/French Excel 'CSV (MS-DOS/Windows)': semicolons, cp1252 (€, curly quotes, œ)."""
    text = "Frage;Antwort;Preis\r\nWas kostet das?;„zehn“ Euro;10,50 €\r\nŒuvre;naïve;5\r\n"
    return text.encode("cp1252")


def latin1() -> bytes:
    """A latin-1 file (accents above 0xA0 only)."""
    return "name,city\nJosé,São Paulo\nZoë,Zürich\n".encode("latin-1")


def utf16() -> bytes:
    """'Unicode Text' from Excel: UTF-16 LE with BOM, tab separated."""
    return "prompt\tlang\r\nこんにちは\tja\r\nhello\ten\r\n".encode("utf-16")


def utf16_no_bom() -> bytes:
    """UTF-16 LE without a BOM (some export tools)."""
    return "a,b\r\nx,y\r\n".encode("utf-16-le")


def quoted_newlines() -> bytes:
    """Cells with embedded newlines, quotes and delimiters."""
    return (b'id,text\n1,"He said ""hi""\nand left"\n2,"semi;colon, comma | pipe"\n3,"ends with newline\n"\n'
            )


def formula_cells() -> bytes:
    """Cells that look like spreadsheet formulas; they must be read as plain text."""
    return (b'input,expected\n"=HYPERLINK(""http://evil.example"",""click"")",+1\n@SUM(A1:A2),-5\n'
            b'"-2+3",=cmd|x\n')


def ragged_rows() -> bytes:
    """A row with an extra field (row 2) - must be rejected naming the row."""
    return b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n"


def short_row() -> bytes:
    """A row with a missing field (row 3)."""
    return b"a,b,c\n1,2,3\n4,5,6\n7,8\n"


def empty() -> bytes:
    """A zero-byte file."""
    return b""


def whitespace_only() -> bytes:
    """Blank lines only."""
    return b"\r\n\r\n  \n"


def binary() -> bytes:
    """Random-looking binary data with NUL bytes."""
    return bytes(range(256)) * 8


def xlsx_like() -> bytes:
    """The first bytes of a .xlsx workbook (a ZIP)."""
    return b"PK\x03\x04\x14\x00\x06\x00" + bytes(200)


def header_only() -> bytes:
    """A header and nothing else."""
    return b"question,answer\r\n"


def duplicate_headers() -> bytes:
    """Two columns with the same name (case differs)."""
    return b"question,answer,Question\n1,2,3\n"


def blank_header() -> bytes:
    """A column with no name (Excel's trailing empty column)."""
    return b"question,,answer\n1,2,3\n"


def tsv() -> bytes:
    """Tab-separated with a .tsv name."""
    return b"q\tctx\nhello\tworld\n"


def pipe() -> bytes:
    """Pipe-separated."""
    return b"q|ctx\nhello|world\nbye|moon\n"


def promptfoo_csv() -> bytes:
    """promptfoo test CSV: __expected columns, __description, __metadata:*."""
    return (b'language,input,__expected,__expected2,__description,__metadata:topic\n'
            b'French,Hello,icontains:bonjour,similar(0.7):Bonjour le monde,greeting,small talk\n'
            b'German,Thanks,Danke,not-contains:merci,thanks,\n'
            b'Spanish,Is this JSON?,is-json,regex:^\\{,json,format\n')


def promptfoo_jsonl() -> bytes:
    """promptfoo JSONL test cases and one flat object."""
    lines = [
        {"vars": {"q": "2+2", "ctx": {"user": {"name": "Ann"}}}, "assert": [{"type": "equals", "value": "4"}],
         "description": "math"},
        {"vars": {"q": "json please"}, "assert": [{"type": "is-json", "value": {"type": "object"}},
                                                   {"type": "llm-rubric", "value": "is polite"}],
         "metadata": {"k": 1}},
        {"q": "flat", "ctx": "plain", "__expected": "contains:fl"},
    ]
    return ("\n".join(json.dumps(x) for x in lines) + "\n").encode("utf-8")


def json_array() -> bytes:
    """A JSON array of objects with numbers, nulls and nested values."""
    return json.dumps([{"q": "a", "n": 1, "x": None, "nested": {"k": [1, 2]}},
                       {"q": "b", "n": 2.5, "x": "NA", "nested": {"k": []}}]).encode("utf-8")


def big_csv(n: int = 100_000) -> bytes:
    """n rows x 4 columns (~70 bytes a row), with quotes, commas and accents."""
    parts = ["id,question,context,expected\n"]
    for i in range(n):
        parts.append(f'{i},"What is {i} + {i}, exactly?","Café row {i} — ""quoted""",{2 * i}\n')
    return "".join(parts).encode("utf-8")


# filename -> (bytes, expected): expected is a dict of attributes to check, or ("error", words in message)
CASES: dict[str, tuple[bytes, object]] = {
    "excel.csv": (excel_csv_utf8(), {"encoding": "utf-8-sig", "delimiter": ",", "rows": 3,
                                     "columns": ["question", "answer", "notes"]}),
    "german.csv": (semicolon_cp1252(), {"encoding": "cp1252", "delimiter": ";", "rows": 2, "warn": True}),
    "latin1.csv": (latin1(), {"encoding": "cp1252", "rows": 2, "warn": True}),
    "unicode.txt": (utf16(), {"encoding": "utf-16-le", "delimiter": "\t", "rows": 2, "format": "tsv"}),
    "nobom16.csv": (utf16_no_bom(), {"encoding": "utf-16-le", "rows": 1}),
    "quoted.csv": (quoted_newlines(), {"rows": 3, "delimiter": ","}),
    "formulas.csv": (formula_cells(), {"rows": 3, "delimiter": ","}),
    "data.tsv": (tsv(), {"delimiter": "\t", "format": "tsv", "rows": 1}),
    "pipe.csv": (pipe(), {"delimiter": "|", "rows": 2}),
    "promptfoo.csv": (promptfoo_csv(), {"rows": 3, "columns": ["language", "input"]}),
    "tests.jsonl": (promptfoo_jsonl(), {"rows": 3, "format": "jsonl", "columns": ["q", "ctx"]}),
    "array.json": (json_array(), {"rows": 2, "format": "json", "columns": ["q", "n", "x", "nested"]}),
    "ragged.csv": (ragged_rows(), ("error", ["row 2", "4 field", "line 3"])),
    "short.csv": (short_row(), ("error", ["row 3", "column 'c'"])),
    "empty.csv": (empty(), ("error", ["empty"])),
    "blank.csv": (whitespace_only(), ("error", ["empty"])),
    "binary.csv": (binary(), ("error", ["not a text file"])),
    "book.xlsx": (xlsx_like(), ("error", ["xlsx"])),
    "header.csv": (header_only(), ("error", ["no data rows"])),
    "dupes.csv": (duplicate_headers(), ("error", ["duplicate", "Question"])),
    "blankhdr.csv": (blank_header(), ("error", ["column 2", "blank"])),
}
