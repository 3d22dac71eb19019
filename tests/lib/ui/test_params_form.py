"""The parameters form without Streamlit: only switched-on fields are sent; JSON fields validated."""

from __future__ import annotations

import json

from lib.ui import NOT_SET, build_params, fields_for, sent_summary


def test_nothing_is_sent_unless_set():
    form = fields_for({})
    assert not any(form.on.values()) and form.effort == NOT_SET
    params, err = build_params(form)
    assert (params, err) == ({}, None)
    assert sent_summary(params) == "Sent: the messages only (provider defaults)"


def test_saved_values_switch_their_fields_on_and_round_trip():
    saved = {"temperature": 0.2, "reasoning_effort": "high", "tool_choice": "auto", "top_p": 0.9,
             "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}
    form = fields_for(saved)
    assert form.on["temperature"] and not form.on["max_tokens"] and form.effort == "high"
    assert json.loads(form.extra) == {"top_p": 0.9} and json.loads(form.json_texts["tools"]) == saved["tools"]
    params, err = build_params(form)
    assert err is None and params == saved
    assert sent_summary(params).startswith("Sent: reasoning_effort, temperature")


def test_bad_json_fields_name_the_field_and_line():
    form = fields_for({})
    form.json_texts["tools"] = '[\n  {"type": "function", "function": {"name": "f",\n    "parameters": {"type": 7}}}\n]'
    _params, err = build_params(form)
    assert err.startswith("tools[0].function.parameters.type (line 3)")
    form.json_texts["tools"] = "[\n  {oops}\n]"
    assert build_params(form)[1].startswith("tools: not valid JSON at line 2")
