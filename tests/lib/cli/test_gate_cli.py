"""The CI gate of `batch run`: exit 0 passed, 100 gate failed, 1 not finished, 2 bad input; JUnit export."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from typer.testing import CliRunner

from lib.cli.app import build
from lib.client.model_client import reset_clients
from tests.fakefaults import Fault

runner = CliRunner()
JUNIT_XSD = Path(__file__).resolve().parents[2] / "junit.xsd"


def cli(*args):
    return runner.invoke(build(), [str(a) for a in args])


def teardown_function(_fn):
    reset_clients()


def _setup(tmp_path, n: int = 12):
    assert cli("prompts", "create", "qa", "--message", "user:Q: {{q}}").exit_code == 0
    data = tmp_path / "cases.csv"
    data.write_text("q\n" + "".join(f"item {i}\n" for i in range(n)), encoding="utf-8")
    return data


def _final(r) -> dict:
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_passing_gate_exits_0(engine, tmp_path):
    data = _setup(tmp_path)
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo", "--eval", "contains:Q:",
            "--fail-under", "90%", "--max-errors", 0, "--json")
    assert r.exit_code == 0, r.output
    gate = _final(r)["gate"]
    assert gate["passed"] is True and gate["pass_rate"] == 1.0 and gate["scored"] == 12


def test_pass_rate_under_threshold_exits_100(engine, tmp_path):
    data = _setup(tmp_path)
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo",
            "--eval", "contains:THIS_WILL_FAIL", "--fail-under", "0.5")
    assert r.exit_code == 100, r.output
    assert "pass rate 0.0% (0/12 scored) is under 50.0%" in r.stderr
    assert "gate: FAILED" in r.stdout


def test_no_scored_item_fails_a_rate_gate(engine, tmp_path):
    data = _setup(tmp_path, 3)
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo", "--fail-under", "0.1")
    assert r.exit_code == 100 and "pass rate is unknown" in r.stderr


def test_too_many_errors_exits_100_but_within_budget_exits_0(engine, tmp_path):
    data = _setup(tmp_path, 3)
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "nowhere/x", "--max-errors", 2)
    assert r.exit_code == 100, r.output
    assert "3 item(s) failed to run" in r.stderr
    r = cli("batch", "run", "--dataset", "cases", "--prompt", "qa", "--model", "nowhere/x", "--max-errors", 3)
    assert r.exit_code == 0, r.output


def test_job_that_does_not_finish_exits_1(engine, tmp_path, fake_server):
    data = _setup(tmp_path, 3)
    assert cli("endpoints", "add", "fake", "--kind", "openai", "--base-url", fake_server.url).exit_code == 0
    fake_server.script(*[Fault(status=401) for _ in range(10)])
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "fake/m", "--eval", "contains:x",
            "--fail-under", "0.5", "--concurrency", 1)
    assert r.exit_code == 1, r.output
    assert "paused" in r.stderr


def test_bad_gate_input_exits_2(engine, tmp_path):
    data = _setup(tmp_path, 2)
    for args in (("--fail-under", "1.5"), ("--fail-under", "lots"), ("--baseline", "nope:3"),
                 ("--baseline", "qa"), ("--fail-under", "0.5", "--detach")):
        r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo", *args)
        assert r.exit_code == 2, (args, r.output)
        assert len(r.stderr.strip().splitlines()) == 1
    assert json.loads(cli("batch", "list", "--json").stdout) == []


def test_baseline_worse_exits_100_same_exits_0(engine, tmp_path):
    data = _setup(tmp_path)
    assert cli("prompts", "create", "qa", "--message", "user:{{q}}").exit_code == 0  # v2 drops "Q:"
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa:2", "--model", "echo/echo", "--eval", "contains:Q:",
            "--baseline", "qa:1", "--json")
    assert r.exit_code == 100, r.output
    gate = _final(r)["gate"]
    assert [v["outcome"] for v in gate["verdicts"]] == ["worse"]
    assert gate["verdicts"][0]["baseline"] == "qa:1" and gate["verdicts"][0]["version"] == "qa:2"
    assert gate["pass_rate"] == 0.0  # the rate is over the version under test, not the baseline
    assert cli("prompts", "create", "qa", "--message", "user:Q:  {{q}}").exit_code == 0  # v3 still says "Q:"
    r = cli("batch", "run", "--dataset", "cases", "--prompt", "qa:3", "--model", "echo/echo",
            "--eval", "contains:Q:", "--baseline", "qa:1")
    assert r.exit_code == 0, r.output
    assert "no difference" in r.stdout
    job = json.loads(cli("batch", "list", "--json").stdout)[0]["id"]
    r = cli("batch", "gate", job, "--baseline", "qa:1", "--fail-under", 1)
    assert r.exit_code == 0, r.output
    r = cli("batch", "gate", job, "--baseline", "qa:2")
    assert r.exit_code == 2 and "baseline must be one of the job's versions" in r.stderr


def test_junit_export_has_the_ci_shape(engine, tmp_path):
    assert cli("prompts", "create", "qa", "--message", "user:Q: {{q}}").exit_code == 0
    data = tmp_path / "cases.csv"
    data.write_text("q,__expected\none,contains:one\ntwo,contains:zzz\n\x01three,contains:three\n",
                    encoding="utf-8")
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo", "--model", "nowhere/x",
            "--repeats", 2)
    assert r.exit_code == 0, r.output
    job = json.loads(cli("batch", "list", "--json").stdout)[0]["id"]
    out = tmp_path / "results.xml"
    r = cli("batch", "export", job, "--format", "junit", "-o", out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 12
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(out))  # raises with the path of any violation
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["qa:1 · echo/echo", "qa:1 · nowhere/x"]
    for s in suites:
        cases = s.findall("testcase")
        assert [c.get("name") for c in cases] == ["row 1", "row 1 repeat 1", "row 2", "row 2 repeat 1", "row 3",
                                                  "row 3 repeat 1"]
        assert int(s.get("tests")) == 6 and all(c.get("classname") == s.get("name") for c in cases)
        for c in cases:
            assert set(c.attrib) == {"name", "classname", "time"}
            assert all(child.tag in ("failure", "error", "skipped") for child in c)
    echo, nowhere = suites
    assert echo.get("failures") == "2" and echo.get("errors") == "0"
    failures = [c.find("failure") for c in echo.findall("testcase") if c.find("failure") is not None]
    assert failures[0].get("message").startswith("contains:zzz: ")
    assert nowhere.get("errors") == "6" and all(c.find("error") is not None for c in nowhere.findall("testcase"))
    assert root.get("tests") == "12" and root.get("failures") == "2" and root.get("errors") == "6"


def test_a_job_whose_items_all_failed_exits_1_without_a_gate(engine, tmp_path):
    data = _setup(tmp_path, 3)  # #11 item 6: it ended "done" with 100% errors and exit 0
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "nowhere/x")
    assert r.exit_code == 1, r.output
    assert "every item failed (3 errors)" in r.stderr
