"""`python -m lib batch ...` and `worker` through typer's runner (the real functions, echo endpoint)."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from lib.cli.app import build
from lib.client.model_client import reset_clients

runner = CliRunner()


def cli(*args):
    return runner.invoke(build(), [str(a) for a in args])


def teardown_function(_fn):
    reset_clients()


def _prompt():
    r = cli("prompts", "create", "qa", "--message", "user:Q: {{q}}")
    assert r.exit_code == 0, r.output


def test_run_status_list_export(engine, tmp_path):
    _prompt()
    data = tmp_path / "cases.csv"
    data.write_text("Q,__expected\nwhat is 1?,contains:1\n=1+1,contains:zzz\n", encoding="utf-8")
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo", "--eval", "icontains:Q:",
            "--concurrency", 2, "--json")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    head = json.loads(lines[0])
    assert head["total_items"] == 2
    job = head["job_id"]
    final = json.loads(lines[-1])
    assert final["status"] == "done" and final["counts"]["done"] == 2 and final["pass_rate"] == 0.5
    st = json.loads(cli("batch", "status", job, "--json").stdout)
    assert st["pass_rates"][0]["version"] == "qa:1" and st["pass_rates"][0]["passed"] == 1
    human = cli("batch", "status", job)
    assert human.exit_code == 0 and "2 done" in human.stdout and "50.0%" in human.stdout
    listing = json.loads(cli("batch", "list", "--json").stdout)
    assert [j["id"] for j in listing] == [job]
    out = tmp_path / "res.parquet"
    r = cli("batch", "export", job, "--format", "parquet", "-o", out)
    assert r.exit_code == 0, r.output
    frame = pd.read_parquet(out)
    assert len(frame) == 2 and list(frame["input.Q"]) == ["what is 1?", "'=1+1"]
    # the same dataset by name: the stored one is reused
    r = cli("batch", "run", "--dataset", "cases", "--prompt", "qa:1", "--model", "echo/echo", "--json")
    assert r.exit_code == 0, r.output
    # resuming a finished job sends nothing and says done
    r = cli("batch", "resume", job, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "done"


def test_bad_input_exits_2_with_one_line(engine, tmp_path):
    _prompt()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    r = cli("batch", "run", "--dataset", bad, "--prompt", "qa", "--model", "echo/echo")
    assert r.exit_code == 2 and "row" in r.output and len(r.output.strip().splitlines()) == 1
    r = cli("batch", "run", "--dataset", "nope", "--prompt", "qa", "--model", "echo/echo")
    assert r.exit_code == 2
    r = cli("batch", "status", 999)
    assert r.exit_code == 2 and "unknown batch job 999" in r.output
    r = cli("batch", "export", 1, "--format", "xls", "-o", tmp_path / "x")
    assert r.exit_code == 2
    good = tmp_path / "g.csv"
    good.write_text("q\nx\n", encoding="utf-8")
    r = cli("batch", "run", "--dataset", good, "--prompt", "qa", "--model", "echo/echo", "--eval", "nonsense:1")
    assert r.exit_code == 2


def test_detach_then_worker_once_cancel_retry(engine, tmp_path):
    _prompt()
    data = tmp_path / "d.csv"
    data.write_text("q\na\nb\nc\n", encoding="utf-8")
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "nowhere/x", "--detach", "--json")
    job = json.loads(r.stdout.splitlines()[0])["job_id"]
    r = cli("worker", "--once")
    assert r.exit_code == 0, r.output
    st = json.loads(cli("batch", "status", job, "--json").stdout)
    assert st["status"] == "done" and st["counts"]["error"] == 3
    r = cli("batch", "retry-failed", job, "--detach", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["counts"]["pending"] == 3
    r = cli("batch", "cancel", job, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "cancelled"
    r = cli("worker", "--once")
    assert json.loads(cli("batch", "status", job, "--json").stdout)["counts"]["pending"] == 3
