"""Parameters typed as JSON: known names are checked by type and range, fields on screen win nothing silently."""

from __future__ import annotations

from lib.prompts import check_params


def test_bad_types_and_ranges_are_refused_with_the_parameter_name():
    errors, as_is = check_params({"temperature": "hot", "top_p": 7}, typed=())
    assert len(errors) == 2 and as_is == []
    assert "temperature: expected a number from 0 to 2, got 'hot'" in errors
    assert "top_p: 7 is out of range (use a value from 0 to 1)" in errors


def test_a_name_with_its_own_field_is_refused():
    errors, _ = check_params({"temperature": 0.5, "seed": 7}, typed=("temperature", "max_tokens"))
    assert errors == ["temperature has its own field above: set it there, not in Other parameters"]


def test_unknown_names_are_sent_as_is_and_good_values_pass():
    errors, as_is = check_params({"top_p": 0.9, "seed": 7, "stop": ["\n"], "logit_bias": {"50256": -100},
                                  "parallel_tool_calls": False}, typed=("temperature",))
    assert errors == [] and as_is == ["logit_bias"]
    assert check_params({"seed": 1.5, "stop": [1], "parallel_tool_calls": "yes"})[0] == [
        "seed: expected a whole number, got 1.5", "stop: expected a string or a list of up to 4 strings, got [1]",
        "parallel_tool_calls: expected true or false, got 'yes'"]
    assert check_params({"reasoning_effort": "extreme"})[0]  # delegated to the modern-parameter checks
