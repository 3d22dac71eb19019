"""`endpoints`, `run` and `runs` commands through typer's runner (real functions, echo and fake server)."""

from __future__ import annotations

import json

import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from lib.cli import client as cli_client
from lib.cli import prompts as cli_prompts
from lib.client.model_client import reset_clients
from lib.models import Endpoint

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_client.register(app)
    cli_prompts.register(app)
    return app


def cli(*args):
    return runner.invoke(_app(), [str(a) for a in args])


def teardown_function(_fn):
    reset_clients()


def test_endpoints_add_list_test(engine, fake_server):
    r = cli("endpoints", "add", "fake", "--kind", "openai", "--base-url", fake_server.url, "--rpm", "100",
            "--max-concurrency", "4", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rpm"] == 100
    r = cli("endpoints", "list", "--json")
    assert r.exit_code == 0 and {e["name"] for e in json.loads(r.stdout)} == {"echo", "fake"}
    r = cli("endpoints", "list")
    assert "fake" in r.stdout and "rpm=100" in r.stdout
    r = cli("endpoints", "test", "fake")
    assert r.exit_code == 0 and "fake: ok" in r.stdout and "gpt-4o-mini" in r.stdout
    with Session(engine) as s:  # kept, as a test in Settings is: the sidebar no longer says "not tested"
        row = s.exec(select(Endpoint).where(Endpoint.name == "fake")).one()
        assert row.last_check_ok is True and "gpt-4o-mini" in row.last_check_models
    r = cli("endpoints", "add", "bad", "--kind", "cohere")
    assert r.exit_code == 2 and "kind" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("endpoints", "add", "k", "--kind", "openai", "--base-url", "https://a.example.com",
            "--api-key-env", "A_KEY")
    assert r.exit_code == 0
    r = cli("endpoints", "update", "k", "--base-url", "https://b.example.com")
    assert r.exit_code == 2 and "name the key again" in r.stderr


def test_run_prints_answer_and_metrics_line(engine):
    r = cli("prompts", "create", "hello", "--message", "user:Hello {{name}}", "--model", "echo/echo")
    assert r.exit_code == 0, r.output
    r = cli("run", "hello", "--var", "name=Ada")
    assert r.exit_code == 0, r.output
    assert "[user] Hello Ada" in r.stdout
    assert "tokens" in r.stderr and "ms" in r.stderr and "TTFT" in r.stderr and "$0.000000" in r.stderr
    r = cli("run", "hello", "--var", "name=Bob", "--model", "echo/echo", "--stream")
    assert r.exit_code == 0 and "[user] Hello Bob" in r.stdout and "TTFT" in r.stderr
    r = cli("run", "hello", "--var", "name=Cy", "--param", "temperature=0.5", "--json")
    data = json.loads(r.stdout)
    assert data["status"] == "ok" and data["text"] == "[user] Hello Cy" and data["run_id"] >= 1
    r = cli("run", "hello")
    assert r.exit_code == 2 and "missing value for variable" in r.stderr
    r = cli("run", "hello", "--var", "name=x", "--model", "nowhere/m")
    assert r.exit_code == 2 and "unknown endpoint" in r.stderr

    r = cli("runs", "list", "--json")
    listed = json.loads(r.stdout)
    assert listed["total"] == 3 and listed["runs"][0]["output"] == "[user] Hello Cy"
    r = cli("runs", "list")
    assert r.exit_code == 0 and "(3 of 3)" in r.stdout
    rid = listed["runs"][0]["id"]
    r = cli("runs", "show", rid)
    assert r.exit_code == 0 and "prompt: hello v1" in r.stdout and "--- output" in r.stdout
    r = cli("runs", "show", rid, "--json")
    assert json.loads(r.stdout)["params"] == {"temperature": 0.5}
    r = cli("runs", "rate", rid, "--rating", "1", "--note", "good")
    assert r.exit_code == 0
    r = cli("runs", "show", 99999)
    assert r.exit_code == 2 and "no run" in r.stderr


def test_run_failure_exits_nonzero(engine, fake_server):
    from tests.fakefaults import Fault

    assert cli("endpoints", "add", "fake", "--kind", "openai", "--base-url", fake_server.url).exit_code == 0
    assert cli("prompts", "create", "p", "--message", "user:hi", "--model", "fake/m").exit_code == 0
    fake_server.script(Fault(status=400))
    r = cli("run", "p")
    assert r.exit_code == 1 and "bad_request" in r.stderr


def test_run_prints_a_tool_call_answer(engine, fake_server):
    from tests.fakefaults import Fault

    assert cli("endpoints", "add", "fake", "--kind", "openai", "--base-url", fake_server.url).exit_code == 0
    assert cli("prompts", "create", "ask", "--message", "user:Weather?", "--model", "fake/gpt-x").exit_code == 0
    fake_server.script(Fault(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]))
    r = cli("run", "ask")
    assert r.exit_code == 0, r.output
    assert 'tool call call_1: get_weather({"city": "Paris"})' in r.stdout


def test_invalid_utf8_argument_is_refused_before_any_call(sqlite_engine, fake_server):
    """#11 item 11: a byte that is not UTF-8 (Python hands it over as a lone surrogate) reached the provider,
    then the run log failed.  Now: exit 2, one line naming the argument, and no request sent."""
    assert cli("endpoints", "add", "fake", "--kind", "openai", "--base-url", fake_server.url).exit_code == 0
    assert cli("prompts", "create", "p", "--message", "user:hi {{name}}", "--model", "fake/m").exit_code == 0
    r = cli("run", "p", "--var", "name=caf\udce9")
    assert r.exit_code == 2, r.output
    assert "not valid UTF-8" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert fake_server.count("/chat/completions") == 0 and fake_server.count() == 0


def test_too_deep_json_and_a_directory_as_a_file_exit_2_with_one_line(sqlite_engine, tmp_path):
    """Before: 'unexpected RecursionError' / 'unexpected IsADirectoryError', exit 1."""
    assert cli("prompts", "create", "p", "--message", "user:hi {{name}}").exit_code == 0
    r = cli("render", "p", "--vars-json", "[" * 100_000 + "]" * 100_000)
    assert r.exit_code == 2, r.output
    assert "nested too deeply" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("prompts", "import", str(tmp_path))
    assert r.exit_code == 2, r.output
    assert "is a directory" in r.stderr and str(tmp_path) in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_tools_or_schema_param_exits_2_naming_the_field_and_makes_no_call(sqlite_engine, fake_server):
    """#13 must-hold: bad tool or schema JSON is a clear message naming the field and no call. `run --param`
    sent a tool with an invalid name (and a schema that is not a JSON Schema) to the provider."""
    assert cli("endpoints", "add", "fake", "--kind", "openai", "--base-url", fake_server.url).exit_code == 0
    assert cli("prompts", "create", "p", "--message", "user:hi", "--model", "fake/m").exit_code == 0
    bad_tool = '[{"type": "function", "function": {"name": "a b"}}]'
    r = cli("run", "p", "--param", f"tools={bad_tool}")
    assert r.exit_code == 2, r.output
    assert "tools[0].function.name" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad_schema = '{"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}}'
    r = cli("run", "p", "--param", f"response_format={bad_schema}")
    assert r.exit_code == 2, r.output
    assert "response_format" in r.stderr
    r = cli("run", "p", "--param", "temperature=hot")
    assert r.exit_code == 2 and "temperature" in r.stderr
    assert fake_server.count() == 0
