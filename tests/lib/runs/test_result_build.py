"""RunResult.built (the hot path's constructor) is model_construct, and storable's fast path changes nothing."""

from __future__ import annotations

from lib.client.providers.base import ChatRequest, ChatResponse
from lib.runs import RunResult, construct, storable

VALUES = dict(endpoint="e", model="m", text="hi", status="error", error_kind="timeout", error_message="late",
              http_status=504, prompt_tokens=3, completion_tokens=None, usage_raw={"a": 1}, cost_usd=None,
              latency_ms=1.5, attempts=2, retryable=True)


def test_built_equals_model_construct():
    a, b = RunResult.built(**VALUES), RunResult.model_construct(**VALUES)
    assert a == b and a.model_dump() == b.model_dump() and a.model_fields_set == b.model_fields_set
    assert a.row is None and a.run is None and not a.ok
    a.run_id = 7
    assert a.run_id == 7 and RunResult.built().model_dump() == RunResult().model_dump()


def test_storable_keeps_clean_values_and_cleans_the_rest():
    clean = {"messages": [{"role": "user", "content": "héllo"}], "n": 1, "x": None}
    assert storable(clean) is clean
    assert storable({"a\x00": ["b\x00", ("c",), "\ud800"]}) == {"a": ["b", ["c"], "\ufffd"]}
    assert storable(("a",)) == ["a"]


def test_construct_equals_model_construct_for_the_hot_path_models():
    for cls, values in ((ChatRequest, {"model": "m", "messages": [], "mode": "chat"}),
                        (ChatResponse, {"text": "x", "prompt_tokens": 1, "usage_raw": {"a": 1}})):
        a, b = construct(cls, values), cls.model_construct(**values)
        assert a == b and a.model_dump() == b.model_dump() and a.model_fields_set == b.model_fields_set
    assert construct(ChatRequest, {"model": "m", "messages": []}).params == {}
    assert construct(ChatRequest, {"model": "m", "messages": []}).params is not \
        construct(ChatRequest, {"model": "m", "messages": []}).params
