"""Provider unit tests with httpx.MockTransport: wire formats, headers, parsing, error mapping."""

from __future__ import annotations

import json

import httpx
import pytest

from lib.client.providers import make_provider
from lib.client.providers.anthropic import body_for
from lib.client.providers.anthropic_format import convert_messages as split_system
from lib.client.providers.base import ChatRequest, EndpointConfig, error_for_status, parse_retry_after
from lib.client.providers.echo import echo_text
from lib.client.providers.openai_compat import api_root
from lib.errors import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    ModelNotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
)

MSGS = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]


def _provider(kind: str, handler, base_url="http://h.test", key="k-123", **cfg):
    config = EndpointConfig(name="p", kind=kind, base_url=base_url, api_key_env="X_API_KEY" if key else None, **cfg)
    return make_provider(config, api_key=key, transport=httpx.MockTransport(handler))


def _chat_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"model": "m", "choices": [{"index": 0, "message": {"content": "yo"},
                                                               "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": 3, "completion_tokens": 1,
                                               "prompt_tokens_details": {"cached_tokens": 2}}},
                          headers={"x-request-id": "rid-1"})


@pytest.mark.parametrize("base,root", [("http://h:8000", "http://h:8000/v1"), ("http://h:8000/v1/", "http://h:8000/v1"),
                                       ("https://gw/openai/v1", "https://gw/openai/v1"),
                                       ("http://h:11434/api/v2", "http://h:11434/api/v2"), ("", "https://api.openai.com/v1")])
def test_api_root(base, root):
    assert api_root(base) == root


async def test_openai_chat_payload_headers_and_parse():
    seen = {}

    def handler(request):
        seen["url"], seen["headers"], seen["body"] = str(request.url), request.headers, json.loads(request.content)
        return _chat_ok(request)

    p = _provider("openai", handler, headers={"X-Team": "qa"})
    resp = await p.complete(ChatRequest(model="m", messages=MSGS, params={
        "temperature": 0.2, "top_p": 0.9, "top_k": 5, "max_tokens": 10, "stop": ["\n"], "presence_penalty": 0.1,
        "frequency_penalty": 0.2, "seed": 7, "response_format": "json", "logit_bias": {"1": 2}, "user": None}))
    assert seen["url"] == "http://h.test/v1/chat/completions"
    assert seen["headers"]["authorization"] == "Bearer k-123" and seen["headers"]["x-team"] == "qa"
    body = seen["body"]
    assert body["messages"] == MSGS and body["response_format"] == {"type": "json_object"}
    assert body["top_k"] == 5 and body["seed"] == 7 and body["logit_bias"] == {"1": 2} and "user" not in body
    assert resp.text == "yo" and resp.prompt_tokens == 3 and resp.cached_tokens == 2 and resp.request_id == "rid-1"
    await p.aclose()


async def test_openai_legacy_completion_models_embeddings():
    def handler(request):
        path = request.url.path
        if path.endswith("/completions"):
            body = json.loads(request.content)
            assert body["prompt"] == "S\n\nHi"
            return httpx.Response(200, json={"choices": [{"text": "done", "finish_reason": "length"}]})
        if path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "b"}, {"id": "a"}]})
        if path.endswith("/embeddings"):
            data = [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]
            return httpx.Response(200, json={"data": data})
        return httpx.Response(404)

    p = _provider("openai", handler)
    r = await p.complete(ChatRequest(model="m", messages=MSGS, mode="completion"))
    assert r.text == "done" and r.finish_reason == "length" and r.prompt_tokens is None
    assert await p.list_models() == ["a", "b"]
    assert await p.embed("e", ["x", "y"]) == [[1.0], [2.0]]


@pytest.mark.parametrize("status,cls", [(400, BadRequestError), (422, BadRequestError), (401, AuthenticationError),
                                        (403, AuthenticationError), (404, ModelNotFoundError), (429, RateLimitError),
                                        (408, ServerError), (409, ServerError), (500, ServerError), (529, ServerError)])
def test_error_for_status(status, cls):
    err = error_for_status(status, '{"error": {"message": "nope"}}', {"x-request-id": "r9", "retry-after": "4"}, "ep")
    assert type(err) is cls and err.status_code == status and err.provider_message == "nope"
    assert err.request_id == "r9" and err.retry_after == 4.0
    assert err.retryable == (status in (408, 409, 429, 500, 529))


def test_parse_retry_after():
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412480.0 - 10) == 10.0
    assert parse_retry_after({}) is None and parse_retry_after({"retry-after": "soon"}) is None


async def test_openai_stream_parses_deltas_and_usage():
    sse = ('data: {"choices":[{"index":0,"delta":{"content":"He"}}]}\n\n'
           'data: {"choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]}\n\n'
           'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\n'
           "data: [DONE]\n\n")

    def handler(request):
        assert json.loads(request.content)["stream_options"] == {"include_usage": True}
        return httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})

    events = [e async for e in _provider("openai", handler).stream(ChatRequest(model="m", messages=MSGS))]
    assert [e.text for e in events if e.type == "delta"] == ["He", "llo"]
    done = events[-1].response
    assert done.text == "Hello" and done.prompt_tokens == 4 and done.finish_reason == "stop"


async def test_openai_stream_without_done_is_incomplete():
    sse = 'data: {"choices":[{"index":0,"delta":{"content":"part"}}]}\n\n'

    def handler(request):
        return httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})

    with pytest.raises(IncompleteStreamError) as ei:
        _ = [e async for e in _provider("openai", handler).stream(ChatRequest(model="m", messages=MSGS))]
    assert ei.value.partial_text == "part"


async def test_openai_stream_wrong_content_type_is_protocol_error():
    def handler(request):
        return httpx.Response(200, json={"choices": []})

    with pytest.raises(ProtocolError):
        _ = [e async for e in _provider("openai", handler).stream(ChatRequest(model="m", messages=MSGS))]


def test_anthropic_body():
    system, rest = split_system(MSGS + [{"role": "system", "content": "T"}])
    assert system == "S\n\nT" and rest == [{"role": "user", "content": "Hi"}]
    body = body_for(ChatRequest(model="c", messages=MSGS, params={"stop": "END", "seed": 1, "top_k": 3,
                                                                   "presence_penalty": 0.5}), stream=True)
    assert body == {"model": "c", "messages": [{"role": "user", "content": "Hi"}], "system": "S",
                    "stop_sequences": ["END"], "top_k": 3, "max_tokens": 1024, "stream": True}


async def test_anthropic_complete_headers_and_usage():
    seen = {}

    def handler(request):
        seen["h"], seen["url"] = request.headers, str(request.url)
        return httpx.Response(200, json={"content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
                                         "stop_reason": "end_turn", "model": "c",
                                         "usage": {"input_tokens": 5, "output_tokens": 2}},
                              headers={"request-id": "req_1"})

    p = _provider("anthropic", handler, base_url="http://h.test/v1", options={"anthropic_version": "2099-01-01"})
    r = await p.complete(ChatRequest(model="c", messages=MSGS))
    assert seen["url"] == "http://h.test/v1/messages" and seen["h"]["x-api-key"] == "k-123"
    assert seen["h"]["anthropic-version"] == "2099-01-01" and "authorization" not in seen["h"]
    assert r.text == "AB" and r.prompt_tokens == 5 and r.completion_tokens == 2 and r.request_id == "req_1"


async def test_echo_deterministic_stream_and_failures():
    cfg = EndpointConfig(name="echo", kind="echo", options={"failure_rate": 0.5, "seed": 3})
    p1, p2 = make_provider(cfg), make_provider(cfg)
    outcomes = []
    for p in (p1, p2):
        seq = []
        for _ in range(20):
            try:
                await p.complete(ChatRequest(model="echo", messages=MSGS))
                seq.append(True)
            except ServerError:
                seq.append(False)
        outcomes.append(seq)
    assert outcomes[0] == outcomes[1] and 3 < outcomes[0].count(False) < 17
    ok = make_provider(EndpointConfig(name="echo", kind="echo"))
    resp = await ok.complete(ChatRequest(model="echo", messages=MSGS))
    assert resp.text == echo_text(MSGS) == "[system] S\n[user] Hi"
    assert resp.prompt_tokens > 0 and resp.completion_tokens > 0
    long = [{"role": "user", "content": "x" * 100}]
    events = [e async for e in ok.stream(ChatRequest(model="echo", messages=long))]
    deltas = [e.text for e in events if e.type == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == echo_text(long) and events[-1].type == "done"
