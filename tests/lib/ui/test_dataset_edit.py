"""The dataset editor's table <-> revision rows, and an answer as a new row."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from lib.errors import ValidationError
from lib.ui import EXPECTED_COLUMN, editor_frame, row_from_answer, rows_from_frame


def _rows():
    return [SimpleNamespace(idx=1, data={"q": "one", "n": "1"}, asserts=[{"type": "contains", "value": "1"}],
                            description="first", meta={"k": "v"}),
            SimpleNamespace(idx=2, data={"q": "two", "n": "2"}, asserts=[], description=None, meta={})]


def test_round_trip_edit_delete_add():
    rows = _rows()
    frame = editor_frame(rows, ["q", "n"])
    assert list(frame.columns) == ["(row)", "q", "n", EXPECTED_COLUMN] and list(frame["q"]) == ["one", "two"]
    assert rows_from_frame(frame, rows, ["q", "n"]) == [
        {"data": {"q": "one", "n": "1"}, "asserts": [{"type": "contains", "value": "1"}], "description": "first",
         "meta": {"k": "v"}},
        {"data": {"q": "two", "n": "2"}, "asserts": [], "description": None, "meta": {}}]
    # edit row 1's cell and add an expectation, delete row 2, add a new row (and an empty one the editor left)
    edited = frame.iloc[[0]].copy()
    edited.loc[0, "q"] = "uno"
    edited.loc[0, EXPECTED_COLUMN] = "icontains:UNO"
    edited = pd.concat([edited, pd.DataFrame([{"(row)": None, "q": "three", "n": None, EXPECTED_COLUMN: "3"},
                                              {"(row)": None, "q": None, "n": None, EXPECTED_COLUMN: None}])])
    out = rows_from_frame(edited, rows, ["q", "n"])
    assert [r["data"] for r in out] == [{"q": "uno", "n": "1"}, {"q": "three", "n": ""}]
    assert out[0]["asserts"] == [{"type": "contains", "value": "1"}, {"type": "icontains", "value": "UNO"}]
    assert out[1]["asserts"] == [{"type": "equals", "value": "3"}] and out[1]["description"] is None


def test_bad_expectation_names_the_table_row():
    rows = _rows()
    frame = editor_frame(rows, ["q", "n"])
    frame.loc[1, EXPECTED_COLUMN] = "regex:("
    with pytest.raises(ValidationError, match="table row 2, column __expected"):
        rows_from_frame(frame, rows, ["q", "n"])


def test_answer_as_a_row():
    assert row_from_answer({"q": "hi", "n": 3}, "echo: hi", True) == {
        "data": {"q": "hi", "n": "3"}, "asserts": [{"type": "equals", "value": "echo: hi"}]}
    assert row_from_answer({"q": "hi"}, "echo: hi", False)["asserts"] == []
    with pytest.raises(ValidationError, match="no variables"):
        row_from_answer({}, "x", True)
