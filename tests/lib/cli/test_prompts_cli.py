from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from lib.cli.app import build

runner = CliRunner()


def cli(*args):
    return runner.invoke(build(), list(args))


def ok(*args):
    r = cli(*args)
    assert r.exit_code == 0, r.output
    return r


def js(*args):
    return json.loads(ok(*args, "--json").stdout)


def test_prompt_lifecycle(engine, tmp_path):
    out = js("prompts", "create", "greet", "--message", "system:Greet {{who}}", "--message", "user:In {{lang}}",
             "-m", "first")
    assert (out["version"], out["variables"], out["created"]) == (1, ["who", "lang"], True)
    out = js("prompts", "create", "greet", "--message", "system:Greet {{who}}!", "--message", "user:In {{lang}}")
    assert out["version"] == 2
    assert js("prompts", "label", "greet", "1", "production")["version"] == 1
    assert js("prompts", "show", "greet@production")["version"] == 1
    assert js("prompts", "show", "greet")["version"] == 2
    listing = js("prompts", "list")
    assert listing["total"] == 1 and listing["items"][0]["labels"] == {"production": 1}
    d = js("prompts", "diff", "greet", "1", "2")
    assert d["summary"].startswith("v1 -> v2: 1 message changed")
    r = js("render", "greet:1", "--var", "who=Ann", "--var", "lang=fr")
    assert r["messages"] == [{"role": "system", "content": "Greet Ann"}, {"role": "user", "content": "In fr"}]
    path = tmp_path / "greet.json"
    ok("prompts", "export", "greet", "-o", str(path))
    assert js("prompts", "import", str(path), "--name", "greet-copy")["versions"] == 2
    spec = tmp_path / "p.json"
    spec.write_text(json.dumps({"messages": [{"role": "user", "content": "{% if x %}y{% endif %}"}],
                                "template_format": "jinja2", "tags": ["t"]}))
    assert js("prompts", "create", "fromfile", "--file", str(spec))["template_format"] == "jinja2"


@pytest.mark.parametrize("args,text", [
    (["prompts", "show", "nope"], "unknown prompt 'nope'"),
    (["prompts", "show", "greet:7"], "no version 7"),
    (["prompts", "show", "greet@staging"], "no label 'staging'"),
    (["prompts", "create", "greet", "--message", "wizard:x"], "unknown role"),
    (["prompts", "create", "other", "--message", "nocolon"], "expected ROLE:TEXT"),
    (["prompts", "create", "other"], "at least one message"),
    (["render", "greet", "--var", "who=x"], "missing value for variable: lang"),
    (["render", "greet", "--var", "novalue"], "expected NAME=VALUE"),
    (["prompts", "label", "greet", "9", "production"], "no version 9"),
    (["prompts", "import", "/nonexistent.json"], "No such file"),
])
def test_bad_input_exits_2_with_one_line(engine, args, text):
    ok("prompts", "create", "greet", "--message", "user:{{who}} {{lang}}")
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert text in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output


def test_module_entry_point_no_traceback(sqlite_engine):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    p = subprocess.run([sys.executable, "-m", "lib", "prompts", "show", "missing", "--json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.strip() == "error: unknown prompt 'missing'"
    p = subprocess.run([sys.executable, "-m", "lib", "db", "upgrade", "--json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and json.loads(p.stdout)["revision"]
