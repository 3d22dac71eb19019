"""Evaluators: spec parsing (CLI, promptfoo cells and dicts), pure checks, the LLM judge and embeddings."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.evals import evaluators as ev
from lib.models import Run
from tests.actors import ADMIN
from tests.fakefaults import Fault

# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize("text,expected", [
    ("contains:foo", ev.EvaluatorSpec("contains", "foo")),
    ("icontains:Foo Bar", ev.EvaluatorSpec("icontains", "Foo Bar")),
    ("equals:a:b", ev.EvaluatorSpec("equals", "a:b")),
    (r"regex:^\d+$", ev.EvaluatorSpec("regex", r"^\d+$")),
    ("starts-with:Dear", ev.EvaluatorSpec("starts-with", "Dear")),
    ("contains-any:cat, dog", ev.EvaluatorSpec("contains-any", ["cat", "dog"])),
    ("icontains-all:a,b", ev.EvaluatorSpec("contains-all", ["a", "b"])),
    ("is-json", ev.EvaluatorSpec("is-json")),
    ('json-schema:{"type":"object","required":["a"]}',
     ev.EvaluatorSpec("json-schema", {"type": "object", "required": ["a"]})),
    ("similar:0.8:expected text", ev.EvaluatorSpec("similar", "expected text", 0.8)),
    ("similar:expected: with colon", ev.EvaluatorSpec("similar", "expected: with colon")),
    ("similar(0.7):hi", ev.EvaluatorSpec("similar", "hi", 0.7)),
    ("similar-embed:oai/text-embedding-3-small:0.9:hello",
     ev.EvaluatorSpec("similar-embed", "hello", 0.9, "oai/text-embedding-3-small")),
    ("judge:echo/echo:Is it polite? Answer: yes", ev.EvaluatorSpec("judge", "Is it polite? Answer: yes", None,
                                                                    "echo/echo")),
    ("not-contains:sorry", ev.EvaluatorSpec("contains", "sorry", negate=True)),
])
def test_parse_spec(text, expected):
    assert ev.parse_spec(text) == expected
    # the dict form round-trips
    assert ev.spec_from_dict(expected.to_dict()) == expected


@pytest.mark.parametrize("text,words", [
    ("bogus:x", "unknown evaluator type 'bogus'"),
    ("contains", "missing value"),
    ("regex:(", "regex '('"),
    ("similar:1.5:x", "between 0 and 1"),
    ("json-schema:{not json", "not valid JSON"),
    ('json-schema:{"type": 5}', "invalid schema"),
    ("judge:rubric only", "ENDPOINT/MODEL"),
    ("javascript:output.length > 3", "not supported"),
    ("", "expected TYPE"),
])
def test_parse_spec_errors(text, words):
    with pytest.raises(ValueError, match=None) as info:
        ev.parse_spec(text)
    assert words in str(info.value)


def test_parse_expected_promptfoo_cells():
    assert ev.parse_expected("Paris") == ev.EvaluatorSpec("equals", "Paris")
    assert ev.parse_expected("foo: bar") == ev.EvaluatorSpec("equals", "foo: bar")  # unknown prefix = equals
    assert ev.parse_expected("llm-rubric: is concise") == ev.EvaluatorSpec("judge", " is concise")
    assert ev.parse_expected("grade:mentions Paris").type == "judge"
    assert ev.parse_expected("javascript:output.length < 10") == ev.EvaluatorSpec("unsupported", "javascript")


def test_specs_for_row_and_label():
    specs = ev.specs_for_row([{"type": "icontains", "value": "x"}, {"type": "similar", "value": "y", "threshold": 0.5},
                              {"type": "is-json", "value": {"type": "array"}}, {"type": "contains-any", "value": "a,b"},
                              {"type": "llm-rubric", "value": "good", "provider": "echo/echo"}])
    assert [s.type for s in specs] == ["icontains", "similar", "json-schema", "contains-any", "judge"]
    assert specs[3].value == ["a", "b"] and specs[4].model == "echo/echo"
    assert specs[1].label == "similar:0.5:y"
    long = ev.EvaluatorSpec("equals", "x" * 500).label
    assert len(long) <= 200 and long != ev.EvaluatorSpec("equals", "x" * 499).label
    with pytest.raises(ValueError, match="unknown assertion type"):
        ev.specs_for_row([{"type": "nope"}])


# ---------------------------------------------------------------- pure checks


@pytest.mark.parametrize("spec,output,passed,score", [
    ("equals:Paris", "  Paris\n", True, 1.0),
    ("equals:Paris", "paris", False, 0.0),
    ("contains:Paris", "I think PARIS", False, 0.0),
    ("icontains:Paris", "I think PARIS", True, 1.0),
    ("contains-any:cat,dog", "A DOG barked", True, 1.0),
    ("contains-any:cat,dog", "a bird", False, 0.0),
    ("contains-all:cat,dog", "Cat and dog", True, 1.0),
    ("contains-all:cat,dog,cow", "cat and dog", False, 0.666667),
    (r"regex:^\d+$", "42", True, 1.0),
    (r"regex:^\d+$", "42 apples", False, 0.0),
    ("starts-with:Dear", "  Dear Ann", True, 1.0),
    ("is-json", '{"a": 1}', True, 1.0),
    ("is-json", '```json\n{"a": 1}\n```', True, 1.0),
    ("is-json", "{'a': 1}", False, 0.0),
    ('json-schema:{"type":"object","required":["a"]}', '{"b": 1}', False, 0.0),
    ('json-schema:{"type":"object","required":["a"]}', '{"a": 1}', True, 1.0),
    ("similar:0.8:The capital is Paris", "the capital is paris.", True, None),
    ("similar:0.8:The capital is Paris", "Berlin", False, None),
    ("not-contains:sorry", "Sorry, no", True, 1.0),
    ("not-icontains:sorry", "Sorry, no", False, 0.0),
])
def test_check(spec, output, passed, score):
    r = ev.check(spec, output)
    assert r.passed is passed, r
    if score is not None:
        assert r.score == pytest.approx(score)
    assert 0.0 <= r.score <= 1.0 and r.reason


def test_schema_reason_names_path():
    r = ev.check('json-schema:{"type":"object","properties":{"n":{"type":"integer"}}}', '{"n": "x"}')
    assert r.passed is False and "at n" in r.reason


def test_values_filled_from_row_columns():
    row = {"expected answer": "Paris", "city": "Rome"}
    assert ev.check("equals:{{expected_answer}}", "Paris", row=row).passed is True
    assert ev.check("contains-any:{{city}},Oslo", "rome!", row=row).passed is True
    assert ev.check("equals:{{unknown}}", "{{unknown}}", row=row).passed is True  # unknown names stay literal


def test_unsupported_and_client_needed():
    assert ev.check({"type": "unsupported", "value": "javascript"}, "x").passed is None
    with pytest.raises(ValueError, match="needs a model client"):
        ev.check("judge:echo/echo:be nice", "x")


def test_summarise():
    R = ev.EvalResult
    assert ev.summarise([R(True, 1.0, ""), R(False, 0.5, ""), R(None, None, "")]) == (False, 0.75)
    assert ev.summarise([R(True, 1.0, "")]) == (True, 1.0)
    assert ev.summarise([R(None, None, "")]) == (None, None)


@pytest.mark.parametrize("reply,passed,score", [
    ('{"reason": "ok", "score": 0.9, "pass": true}', True, 0.9),
    ('Thinking... {"score": 3} then {"score": 8, "reason": "good"}', True, 0.8),
    ('{"score": 0.2}', False, 0.2),
    ('{"pass": false, "reason": "rude"}', False, 0.0),
    ("The answer is fine.\nVerdict: PASS", True, 1.0),
    ("I cannot decide", None, None),
])
def test_parse_judge(reply, passed, score):
    r = ev.parse_judge(reply)
    assert r.passed is passed and r.score == score


# ---------------------------------------------------------------- model-backed


def _client(engine, server) -> ModelClient:
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url, timeout_s=5.0)
        s.commit()
    return ModelClient(engine)


async def test_judge_through_client_records_run(sqlite_engine, fake_server):
    client = _client(sqlite_engine, fake_server)
    try:
        fake_server.script(Fault(text='{"reason": "polite and short", "score": 0.75, "pass": true}'),
                           Fault(text="no verdict here"), Fault(status=400, body='{"error": {"message": "bad"}}'))
        r = await ev.evaluate("judge:fake/gpt-4o-mini:Is it polite?", "Thank you!", actor=ADMIN, client=client,
                              source="batch", batch_job_id=7)
        assert (r.passed, r.score, r.reason) == (True, 0.75, "polite and short")
        body = fake_server.requests[0].body
        assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
        user = body["messages"][1]["content"]
        assert "RUBRIC:\nIs it polite?" in user and "Thank you!" in user
        r2 = await ev.evaluate("judge:fake/gpt-4o-mini:Is it polite?", "x", actor=ADMIN, client=client)
        assert r2.passed is None and "could not read" in r2.reason
        r3 = await ev.evaluate("judge:fake/gpt-4o-mini:Is it polite?", "x", actor=ADMIN, client=client)
        assert r3.passed is None and "judge call failed" in r3.reason
    finally:
        client.close()
    with Session(sqlite_engine) as s:
        runs = s.exec(select(Run).order_by(Run.id)).all()
    assert len(runs) == 3 and runs[0].source == "batch" and runs[0].batch_job_id == 7


async def test_judge_default_model_for_promptfoo_rubric(sqlite_engine, fake_server):
    client = _client(sqlite_engine, fake_server)
    try:
        fake_server.script(Fault(text="FAIL"))
        spec = ev.parse_expected("llm-rubric: mentions Paris")
        assert (await ev.evaluate(spec, "Berlin", actor=ADMIN, client=client)).passed is None  # no model at all
        r = await ev.evaluate(spec, "Berlin", actor=ADMIN, client=client, judge_model="fake/gpt-4o-mini")
        assert r.passed is False and r.score == 0.0
    finally:
        client.close()


async def test_similar_embed_via_endpoint(sqlite_engine, fake_server):
    client = _client(sqlite_engine, fake_server)
    try:
        # the fake server embeds a text as [len, 1, 0]: same length -> cosine 1.0
        r = await ev.evaluate("similar-embed:fake/emb:0.99:abcd", "wxyz", client=client, actor=ADMIN)
        assert r.passed is True and r.score == pytest.approx(1.0)
        r = await ev.evaluate("similar-embed:fake/emb:0.99:a", "a much longer answer", client=client, actor=ADMIN)
        assert r.passed is False and r.score < 0.99
        assert fake_server.count("/v1/embeddings") == 2
        assert fake_server.requests[0].body == {"model": "emb", "input": ["wxyz", "abcd"]}
        fake_server.script(Fault(status=401, body='{"error": {"message": "bad key"}}', path="/v1/embeddings"))
        r = await ev.evaluate("similar-embed:fake/emb:0.5:a", "a", client=client, actor=ADMIN)
        assert r.passed is None and "failed" in r.reason
    finally:
        client.close()


async def test_similar_embed_on_echo_is_offline(sqlite_engine):
    r = await ev.evaluate("similar-embed:echo/echo:0.9:listen", "silent", actor=ADMIN)  # anagrams: same letter bag
    assert r.passed is True and r.score == pytest.approx(1.0)
    r = await ev.evaluate("similar-embed:echo/echo:0.9:zzz", "aaa", actor=ADMIN)
    assert r.passed is False and r.score == 0.0


def test_to_dict_is_json_safe():
    spec = ev.parse_spec('json-schema:{"type":"object"}')
    assert json.loads(json.dumps(spec.to_dict())) == {"type": "json-schema", "value": {"type": "object"}}


# ---------------------------------------------------------------- tool calls and the version's schema

CALLS = [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
    "additionalProperties": False}}}]


def test_tool_called():
    assert ev.check("tool-called:get_weather", "", tool_calls=CALLS).passed is True
    r = ev.check("tool-called:search", "", tool_calls=CALLS)
    assert r.passed is False and "get_weather" in r.reason
    assert ev.check("tool-called:get_weather", "sunny", tool_calls=None).passed is False
    assert ev.check("not-tool-called:search", "", tool_calls=CALLS).passed is True


def test_tool_args_match():
    assert ev.check('tool-args-match:{"required": ["city"]}', "", tool_calls=CALLS).passed is True
    r = ev.check('tool-args-match:{"required": ["country"]}', "", tool_calls=CALLS)
    assert r.passed is False and "country" in r.reason
    assert ev.check('tool-args-match:search:{"type": "object"}', "", tool_calls=CALLS).passed is False
    bad = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]
    assert "not JSON" in ev.check('tool-args-match:{"type": "object"}', "", tool_calls=bad).reason
    with pytest.raises(ValueError, match="tool-args-match"):
        ev.parse_spec('tool-args-match:{"type": 5}')


def test_is_valid_openai_tools_call():
    assert ev.check("is-valid-openai-tools-call", "", tool_calls=CALLS, tools=TOOLS).passed is True
    extra = [{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": 1}'}}]
    assert ev.check("is-valid-openai-tools-call", "", tool_calls=extra, tools=TOOLS).passed is False
    other = [{"id": "c", "type": "function", "function": {"name": "search", "arguments": "{}"}}]
    assert "not one of" in ev.check("is-valid-openai-tools-call", "", tool_calls=other, tools=TOOLS).reason
    assert ev.check("is-valid-openai-tools-call", "just text", tool_calls=None, tools=TOOLS).passed is False
    assert ev.spec_from_dict({"type": "is-valid-openai-tools-call"}).type == "is-valid-openai-tools-call"


def test_json_schema_against_the_versions_own_schema():
    schema = {"type": "object", "required": ["answer"]}
    assert ev.check("json-schema", '{"answer": "yes"}', schema=schema).passed is True
    assert ev.check("json-schema", '{"other": 1}', schema=schema).passed is False
    assert ev.check("json-schema", '{"answer": 1}').passed is None  # no schema to check against: not judged
    assert ev.spec_from_dict({"type": "json-schema"}).value is None
