"""`datasets import|list|show` commands: output, --json, and exit 2 with a one-line error naming row and column."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from lib.cli import datasets as cli_datasets
from tests import data_files as files


@pytest.fixture
def run(engine):
    """Invoke the datasets commands against the test database (DATABASE_URL is set by `engine`)."""
    cli = typer.Typer()
    cli_datasets.register(cli)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def test_import_list_show(run, tmp_path):
    f = tmp_path / "Cases.csv"
    f.write_bytes(files.promptfoo_csv())
    res = run("datasets", "import", str(f))
    assert res.exit_code == 0, res.output
    assert "dataset Cases (id 1): 3 rows, 2 columns" in res.output and "columns: language, input" in res.output
    res = run("datasets", "import", str(f), "--json")
    data = json.loads(res.output)
    assert res.exit_code == 0 and data["id"] == 1 and data["rows"] == 3 and data["columns"] == ["language", "input"]
    res = run("datasets", "list", "--json")
    assert [d["name"] for d in json.loads(res.output)] == ["Cases"]
    res = run("datasets", "show", "Cases", "--rows", "2", "--json")
    shown = json.loads(res.output)
    assert [r["idx"] for r in shown["first_rows"]] == [1, 2]
    assert shown["first_rows"][0]["asserts"][0] == {"type": "icontains", "value": "bonjour"}
    res = run("datasets", "show", "1")
    assert res.exit_code == 0 and "row 1: language='French'" in res.output


def test_import_warnings_and_name(run, tmp_path):
    f = tmp_path / "de.csv"
    f.write_bytes(files.semicolon_cp1252())
    res = run("datasets", "import", str(f), "--name", "german")
    assert res.exit_code == 0 and "dataset german" in res.output and "warning: file is not UTF-8" in res.output


@pytest.mark.parametrize("maker,words", [
    (files.ragged_rows, ["row 2", "line 3"]),
    (files.short_row, ["row 3", "column 'c'"]),
    (files.binary, ["not a text file"]),
    (files.header_only, ["no data rows"]),
])
def test_bad_files_exit_2_with_one_line(run, tmp_path, maker, words):
    f = tmp_path / "bad.csv"
    f.write_bytes(maker())
    res = run("datasets", "import", str(f))
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") and res.stderr else res.output
    line = err.strip()
    assert line.startswith("error: file bad.csv") and "\n" not in line and "Traceback" not in line
    for w in words:
        assert w in line


def test_missing_file_and_unknown_dataset(run, tmp_path):
    res = run("datasets", "import", str(tmp_path / "nope.csv"))
    assert res.exit_code == 2 and "no such file" in (res.stderr or res.output)
    res = run("datasets", "show", "nope")
    assert res.exit_code == 2 and "unknown dataset 'nope'" in (res.stderr or res.output)
    res = run("datasets", "list")
    assert res.exit_code == 0 and "no datasets yet" in res.output
