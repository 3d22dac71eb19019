"""`python -m lib metrics ...` on literal data."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from lib.cli.app import build
from tests.lib.metrics_data import standard

runner = CliRunner()


def test_summary_json_and_text(engine):
    with Session(engine, expire_on_commit=False) as s:
        standard(s)
    r = runner.invoke(build(), ["metrics", "summary", "--since", "3d", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["calls"] == 104 and out["errors"] == 1 and out["spend_usd"] == pytest.approx(2.0)
    assert out["p95_latency_ms"] == 95 and out["unpriced_calls"] == 2
    assert [m["model"] for m in out["models"]] == ["anthropic/B", "openai/A"]
    assert out["models"][1]["p50_latency_ms"] == 50 and out["models"][0]["p95_latency_ms"] == 40
    text = runner.invoke(build(), ["metrics", "summary"])
    assert text.exit_code == 0 and "104 calls" in text.stdout and "p95 95 ms" in text.stdout


def test_summary_empty_and_bad_since(sqlite_engine):
    r = runner.invoke(build(), ["metrics", "summary"])
    assert r.exit_code == 0 and "no runs in this period" in r.stdout
    bad = runner.invoke(build(), ["metrics", "summary", "--since", "yesterday"])
    assert bad.exit_code == 2 and "expected e.g. 24h" in bad.stderr
    assert json.loads(runner.invoke(build(), ["metrics", "rebuild", "--json"]).stdout) == {"runs": 0}
