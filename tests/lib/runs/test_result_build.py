"""RunResult.built (the hot path's constructor) is model_construct, and storable's fast path changes nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.client.providers.base import ChatRequest, ChatResponse
from lib.runs import RunResult, construct, storable, storable_text

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


# -- the fast cleanliness check agrees with the plain walk it replaced ---------------------------------------
def _reference_clean(value):
    """The walk `storable` used before the type-dispatch version: the rule the fast one must keep."""
    if isinstance(value, str):
        return ("\x00" not in value) if value.isascii() else storable_text(value) == value
    if isinstance(value, dict):
        return all((not isinstance(k, str) or _reference_clean(k)) and _reference_clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_reference_clean(v) for v in value)
    return not isinstance(value, tuple)


class _Str(str):
    pass


class _Dict(dict):
    pass


_text = st.text(alphabet=st.sampled_from(["a", "é", "\x00", "\ud800", "😀", " "]), max_size=4)
_leaf = st.one_of(_text, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                  _text.map(_Str), st.tuples(_text))
_json_like = st.recursive(_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.one_of(_text, st.integers()), kids, max_size=3),
    st.dictionaries(_text, kids, max_size=2).map(_Dict)), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(_json_like)
def test_fast_clean_check_agrees_with_the_reference_walk(value):
    out = storable(value)
    assert (out is value) == _reference_clean(value)
    assert _reference_clean(out)
