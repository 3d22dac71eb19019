"""Custom evaluators `python:module:function` (a subprocess with a time limit) and the job's judge model."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from lib.cli.app import build
from lib.client.model_client import reset_clients
from lib.evals import check, parse_spec, spec_from_dict
from lib.settings import get_settings
from tests.fakefaults import Fault

runner = CliRunner()

CHECKS = '''
import os, sys, time

def has_q(output, row):
    return "Q:" in output

def ratio(output, row):
    return min(1.0, len(output) / 100)

def full(output, row):
    return {"passed": row["q"] in output, "score": 0.75, "reason": "looked for " + row["q"]}

def raises(output, row):
    raise RuntimeError("boom")

def hangs(output, row):
    time.sleep(60)

def junk(output, row):
    print("noise on stdout")
    return "maybe"

def raw_junk(output, row):
    os.write(1, b"not json at all\\n")
    os._exit(0)

def exits(output, row):
    sys.exit(3)

def out_of_range(output, row):
    return 7

def env(output, row):
    return {"passed": True, "reason": ",".join(sorted(os.environ))}

def by_row(output, row):
    if row["q"] == "bad":
        raise ValueError("this row breaks me")
    if row["q"] == "slow":
        time.sleep(60)
    return True
'''


@pytest.fixture
def evaldir(tmp_path, monkeypatch):
    d = tmp_path / "evaluators"
    d.mkdir()
    (d / "checks.py").write_text(textwrap.dedent(CHECKS), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_EVALUATORS_DIR", str(d))
    monkeypatch.setenv("WORKBENCH_EVALUATOR_TIMEOUT_S", "1.5")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-seen-by-evaluators")
    get_settings.cache_clear()
    yield d
    get_settings.cache_clear()


def cli(*args):
    return runner.invoke(build(), [str(a) for a in args])


def teardown_function(_fn):
    reset_clients()


def test_return_shapes(evaldir):
    assert check("python:checks:has_q", "Q: hi").passed is True
    assert check("python:checks:has_q", "nope") == check("python:checks:has_q", "nope")
    r = check("python:checks:ratio", "x" * 30)
    assert r.passed is False and r.score == 0.3  # below the default 0.5
    r = check(spec_from_dict({"type": "python", "value": "checks:ratio", "threshold": 0.2}), "x" * 30)
    assert r.passed is True
    r = check("python:checks:full", "about cats", row={"q": "cats"})
    assert (r.passed, r.score, r.reason) == (True, 0.75, "looked for cats")
    assert check("not-python:checks:has_q", "Q: hi").passed is False


@pytest.mark.parametrize(("fn", "why"), [("raises", "raised RuntimeError: boom"), ("hangs", "timed out after 1.5 s"),
                                         ("junk", "returned str ('maybe')"), ("raw_junk", "gave no result"),
                                         ("exits", "raised SystemExit: 3"), ("out_of_range", "outside [0, 1]"),
                                         ("missing", "raised AttributeError")])
def test_failures_are_errors_with_a_reason(evaldir, fn, why):
    r = check(f"python:checks:{fn}", "out", row={"q": "x"})
    assert r.passed is None and r.score is None
    assert r.reason.startswith(f"error: python:checks:{fn}") and why in r.reason, r.reason


def test_no_keys_reach_the_evaluator_and_names_are_not_paths(evaldir):
    r = check("python:checks:env", "x")
    assert "OPENAI_API_KEY" not in r.reason and "DATABASE_URL" not in r.reason
    for bad in ("python:../checks:has_q", "python:/tmp/x.py:f", "python:checks", "python:file://a.py:f"):
        with pytest.raises(ValueError, match="python:MODULE:FUNCTION"):
            parse_spec(bad)


def test_unset_folder_is_an_error_not_a_crash(monkeypatch):
    monkeypatch.delenv("WORKBENCH_EVALUATORS_DIR", raising=False)
    get_settings.cache_clear()
    r = check("python:checks:has_q", "x")
    assert r.passed is None and "WORKBENCH_EVALUATORS_DIR" in r.reason


def test_batch_job_finishes_when_an_evaluator_breaks_on_some_rows(engine, evaldir, tmp_path):
    assert cli("prompts", "create", "qa", "--message", "user:Q: {{q}}").exit_code == 0
    data = tmp_path / "rows.csv"
    data.write_text("q\nfine\nbad\nslow\nalso fine\n", encoding="utf-8")
    r = cli("batch", "run", "--dataset", data, "--prompt", "qa", "--model", "echo/echo", "--eval",
            "python:checks:by_row", "--eval", "contains:Q:", "--concurrency", 4, "--json")
    assert r.exit_code == 0, r.output
    final = json.loads(r.stdout.strip().splitlines()[-1])
    assert final["status"] == "done" and final["counts"]["done"] == 4 and final["counts"]["error"] == 0
    job = final["job_id"]
    out = tmp_path / "res.jsonl"
    assert cli("batch", "export", job, "--format", "jsonl", "-o", out).exit_code == 0
    rows = {r["input.q"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert rows["fine"]["eval.python:checks:by_row"] is True and rows["also fine"]["passed"] is True
    assert rows["bad"]["eval.python:checks:by_row"] is None and rows["slow"]["eval.python:checks:by_row"] is None
    assert rows["bad"]["passed"] is True  # the other evaluator still judged the item
    xml = tmp_path / "res.xml"
    assert cli("batch", "export", job, "--format", "junit", "-o", xml).exit_code == 0


def test_job_judge_model_scores_rubrics_that_name_no_model(engine, tmp_path, fake_server):
    assert cli("endpoints", "add", "judge", "--kind", "openai", "--base-url", fake_server.url).exit_code == 0
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(textwrap.dedent("""
        prompts: ['Q: {{q}}']
        providers: [echo]
        defaultTest:
          assert:
            - type: llm-rubric
              value: answers politely
        tests:
          - vars: {q: one}
          - vars: {q: two}
    """), encoding="utf-8")
    r = cli("import", "promptfoo", cfg, "--name", "rubric")
    assert r.exit_code == 0 and "--judge-model" in r.stderr + r.stdout
    fake_server.script(Fault(text='{"reason": "polite", "score": 0.9, "pass": true}'),
                       Fault(text='{"reason": "rude", "score": 0.1, "pass": false}'))
    r = cli("batch", "run", "--dataset", "rubric", "--prompt", "rubric:1", "--model", "echo/echo",
            "--judge-model", "judge/grader", "--concurrency", 1, "--json")
    assert r.exit_code == 0, r.output
    final = json.loads(r.stdout.strip().splitlines()[-1])
    assert final["scored"] == 2 and final["passed"] == 1
    sent = [q.body for q in fake_server.requests if q.path == "/v1/chat/completions"]
    assert [b["model"] for b in sent] == ["grader", "grader"] and "answers politely" in sent[0]["messages"][1][
        "content"]
    # --eval may leave out the judge's model when the job names one
    fake_server.script(Fault(text='{"score": 1, "pass": true, "reason": "ok"}'),
                       Fault(text='{"score": 1, "pass": true, "reason": "ok"}'))
    r = cli("batch", "run", "--dataset", "rubric", "--prompt", "rubric:1", "--model", "echo/echo",
            "--judge-model", "judge/grader", "--eval", "llm-rubric:is short", "--concurrency", 1,
            "--fail-under", "0.5", "--json")
    assert r.exit_code == 0, r.output
    r = cli("batch", "run", "--dataset", "rubric", "--prompt", "rubric:1", "--model", "echo/echo",
            "--judge-model", "nomodel")
    assert r.exit_code == 2 and "ENDPOINT/MODEL" in r.stderr
