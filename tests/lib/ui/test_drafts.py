"""lib.ui.drafts: markdown escaping, prompt drafts, parameter parsing and the workspace summary."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lib import db, prompts
from lib.models import Run, utcnow
from lib.ui.drafts import (
    blank_draft,
    draft_from_version,
    draft_messages,
    is_dirty,
    md_escape,
    move,
    parse_params,
    parse_tags,
    workspace_summary,
)
from tests.actors import ADMIN


def test_md_escape_makes_markup_inert():
    out = md_escape("<img src=x> [x](javascript:alert(1)) **b** :red[t] $x$ a_b")
    assert not re.search(r"(?<!\\)[<>\[\]()*:$_]", out)  # every special character is backslash-escaped
    assert out.replace("\\", "") == "<img src=x> [x](javascript:alert(1)) **b** :red[t] $x$ a_b"
    assert md_escape(None) == ""


def test_drafts_round_trip_and_dirty_tracking(sqlite_engine):
    with db.session_scope(sqlite_engine) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="d", model="echo/echo", params={"temperature": 0.2},
                                  messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "{{x}}"}])
    d = draft_from_version(v)
    assert draft_messages(d) == v.messages and d["base_version"] == 1 and not is_dirty(d, v)
    move(d["messages"], 1, -1)
    assert [m["role"] for m in d["messages"]] == ["user", "system"] and is_dirty(d, v)
    move(d["messages"], 0, -1)  # out of range: unchanged
    assert [m["role"] for m in d["messages"]] == ["user", "system"]
    d = draft_from_version(v)
    d["params_text"] = '{"temperature": 0.3}'
    assert is_dirty(d, v)
    d["params_text"] = "{broken"
    assert is_dirty(d, v)
    assert not is_dirty(blank_draft(), None)
    assert len({m["uid"] for m in blank_draft()["messages"]}) == 2


def test_parse_params_and_tags():
    assert parse_params("") == {} and parse_params(' {"a": 1} ') == {"a": 1}
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_params("{a: 1}")
    with pytest.raises(ValueError, match="JSON object"):
        parse_params("[1, 2]")
    assert parse_tags(" a, b ,,c ") == ["a", "b", "c"]


def test_workspace_summary_counts_and_bounds(engine):
    now = utcnow()
    with db.session_scope(engine) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="p1", messages=[{"role": "user", "content": "x"}])
        prompts.create_prompt(actor=ADMIN, session=s, name="p2", messages=[{"role": "user", "content": "y"}])
        prompts.set_archived(actor=ADMIN, session=s, name="p2", archived=True)
        for i in range(25):
            s.add(Run(source="cli", endpoint="echo", model="echo", status="ok", prompt_name="p1", version_number=1,
                      created_at=now - timedelta(hours=30 if i < 5 else 1, seconds=i)))
    with db.session_scope(engine) as s:
        out = workspace_summary(session=s, recent=7)
    assert out["prompts"] == 1 and out["runs_24h"] == 20
    assert len(out["recent_runs"]) == 7 and out["recent_runs"][0]["prompt"] == "p1:1"
    times = [r["time"] for r in out["recent_runs"]]
    assert times == sorted(times, reverse=True) and out["recent_runs"][0]["model"] == "echo/echo"


def test_a_version_with_parts_tool_messages_and_a_placeholder_round_trips_through_a_draft(sqlite_engine):
    call = {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
    msgs = [{"role": "placeholder", "name": "history"},
            {"role": "user", "content": [{"type": "text", "text": "What is {{x}}?"},
                                         {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "found"}]
    with db.session_scope(sqlite_engine) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="modern", messages=msgs)
    d = draft_from_version(v)
    assert [m["role"] for m in d["messages"]] == ["placeholder", "user", "assistant", "tool"]
    assert d["messages"][0]["content"] == "history" and d["messages"][1]["parts"]
    assert draft_messages(d) == v.messages and not is_dirty(d, v)
