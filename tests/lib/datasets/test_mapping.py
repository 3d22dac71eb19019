"""Column mapping: name matching, dotted/JSON values, rendered preview and the pre-run lint."""

from __future__ import annotations

import pytest

from lib.datasets import mapping
from lib.datasets import store as datasets
from lib.db import session_scope
from lib.errors import ValidationError
from lib.models import PromptVersion
from lib.prompts import templating
from tests import data_files as files
from tests.actors import ADMIN


def version(*contents: str, fmt: str = "mustache") -> PromptVersion:
    roles = ["system", "user"] if len(contents) > 1 else ["user"]
    msgs = [{"role": r, "content": c} for r, c in zip(roles, contents, strict=False)]
    return PromptVersion(prompt_id=1, number=1, messages=msgs, template_format=fmt, content_hash="x")


def test_auto_map_ignores_case_and_separators():
    cols = ["User Name", "QUESTION", "context-text", "extra", "user"]
    got = mapping.auto_map(cols, ["user_name", "question", "contextText", "missing", "user.email"])
    assert got == {"user_name": "User Name", "question": "QUESTION", "contextText": "context-text",
                   "missing": None, "user.email": "user"}


def test_auto_map_prefers_exact_name():
    assert mapping.auto_map(["user_name", "User Name"], ["User Name"]) == {"User Name": "User Name"}
    assert mapping.auto_map(["a.b", "a"], ["a.b"]) == {"a.b": "a.b"}


def test_row_values_dotted_from_json_cell():
    row = {"user": '{"name": "Ann", "tags": ["x", "y"], "age": 3}', "q": "hi"}
    m = {"user.name": "user", "user.tags.1": "user", "user.age": "user", "q": "q", "nope": None}
    assert mapping.row_values(row, m) == {"user.name": "Ann", "user.tags.1": "y", "user.age": "3", "q": "hi"}
    # not JSON / no such key: left out (render will then name it as missing)
    assert mapping.row_values({"user": "plain"}, {"user.name": "user"}) == {}
    assert mapping.row_values({"user": '{"x": 1}'}, {"user.name": "user"}) == {}


def test_row_values_render_with_templating():
    v = version("Hello {{user.name}}, {{ question }}")
    m = mapping.auto_map(["user", "Question"], templating.variables(v))
    msgs = templating.render(v, mapping.row_values({"user": '{"name": "Bo"}', "Question": "why?"}, m))
    assert msgs == [{"role": "user", "content": "Hello Bo, why?"}]


def test_validate_rejects_unknown_columns():
    mapping.validate({"a": "x", "b": None}, ["x"])
    with pytest.raises(ValidationError, match="unknown column.*b=y"):
        mapping.validate({"a": "x", "b": "y"}, ["x"])


def test_preview_renders_first_rows_and_shows_errors(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"question,ctx\nwhat?,{{x}}\n,c2\nthird,c3\n",
                                     filename="p.csv")
        rows = datasets.get_rows(session=s, dataset_id=ds.id)
    v = version("Answer: {{question}}", "Context: {{ctx}} {{lang}}")
    m = mapping.auto_map(ds.columns, templating.variables(v))
    items = mapping.preview(v, rows, m, n=2)
    assert len(items) == 2
    assert items[0].error and "lang" in items[0].error  # missing variable named
    m["lang"] = "question"
    items = mapping.preview(v, rows, m, n=5)
    assert [i.row_idx for i in items] == [1, 2, 3]
    assert items[0].messages[1]["content"] == "Context: {{x}} what?"  # values never re-parsed
    assert items[1].messages[0]["content"] == "Answer: " and items[0].tokens > 0


def test_lint_reports_each_problem():
    v = version("Q: {{question}} C: {{ctx}} U: {{user.name}}")
    rows = [{"question": "a", "ctx": "", "user": '{"name": "x"}', "notes": "n"},
            {"question": "b", "ctx": "", "user": "not json", "notes": "n"},
            {"question": "", "ctx": "c", "user": '{"name": "y"}', "notes": "n"}]
    m = mapping.auto_map(["question", "ctx", "user", "notes"], ["question", "ctx", "user.name", "missing"])
    issues = mapping.lint(columns=["question", "ctx", "user", "notes"], variables=["question", "ctx", "user.name",
                                                                                      "missing"],
                          mapping=m, rows=rows, version=v)
    by = {(i.code, i.variable or i.column): i for i in issues}
    assert by[("missing_variable", "missing")].level == "error"
    assert by[("unused_column", "notes")].level == "info"
    empty = by[("empty_cells", "ctx")]
    assert empty.count == 2 and empty.rows == [1, 2] and "row 1, 2" in empty.message
    assert by[("empty_cells", "question")].rows == [3]
    assert by[("bad_json_path", "user.name")].rows == [2]
    assert mapping.has_errors(issues)


def test_lint_unknown_column_and_clean_case():
    issues = mapping.lint(columns=["a"], variables=["a"], mapping={"a": "zzz"}, rows=[{"a": "1"}])
    assert [i.code for i in issues] == ["unknown_column", "unused_column"]
    clean = mapping.lint(columns=["a"], variables=["a"], mapping={"a": "a"}, rows=[{"a": "1"}],
                         version=version("{{a}}"))
    assert clean == [] and not mapping.has_errors(clean)


def test_lint_context_window_with_explicit_and_bundled_windows():
    v = version("Summarise: {{text}}")
    rows = [{"text": "short"}, {"text": "word " * 3000}, {"text": "ok"}]
    m = {"text": "text"}
    issues = mapping.lint(columns=["text"], variables=["text"], mapping=m, rows=rows, version=v,
                          models=["x/small"], context_windows={"x/small": 1000})
    too_long = [i for i in issues if i.code == "too_long"]
    assert len(too_long) == 1 and too_long[0].rows == [2] and "1,000 tokens" in too_long[0].message
    # max_output_tokens is reserved from the window
    issues = mapping.lint(columns=["text"], variables=["text"], mapping=m, rows=rows[:1], version=v,
                          models=["x/small"], context_windows={"x/small": 1000}, max_output_tokens=995)
    assert [i.code for i in issues] == ["too_long"]
    # a bundled window (genai-prices): gpt-4o-mini has 128k; unknown models are said so
    assert mapping.context_window("openai/gpt-4o-mini") == 128_000
    issues = mapping.lint(columns=["text"], variables=["text"], mapping=m, rows=rows, version=v,
                          models=["openai/gpt-4o-mini", "echo/echo"])
    assert [i.code for i in issues] == ["no_window"] and "echo/echo" in issues[0].message


def test_lint_render_errors_grouped(sqlite_engine):
    v = version("{% for x in items %}{{ x }}{% endfor %}", fmt="jinja2")
    issues = mapping.lint(columns=["items"], variables=["items"], mapping={"items": "items"},
                          rows=[{"items": "ab"}, {"items": "cd"}], version=v)
    assert issues == []
    v = version("{{ a }}")
    issues = mapping.lint(columns=["b"], variables=["a"], mapping={"a": None}, rows=[{"b": "1"}, {"b": "2"}], version=v)
    codes = [i.code for i in issues]
    assert "missing_variable" in codes and "render_error" in codes
    assert [i for i in issues if i.code == "render_error"][0].count == 2


def test_lint_100k_rows():
    # its speed is measured by bench/dataset_import.py (lint/parse ratio), not asserted here (#11 item 13)
    from lib.datasets.reader import read_file

    parsed = read_file(files.big_csv(100_000), "big.csv")
    v = version("Q: {{question}} ({{context}})")
    m = mapping.auto_map(parsed.columns, templating.variables(v))
    issues = mapping.lint(columns=parsed.columns, variables=templating.variables(v), mapping=m, rows=parsed.rows,
                          version=v, models=["openai/gpt-4o-mini"])
    assert [i.code for i in issues] == ["unused_column", "unused_column"]
