"""The OpenAI-compatible gateway through the real `openai` SDK (sync, async, streaming) over loopback."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from sqlmodel import Session, select

from lib.models import Run
from tests.actors import ADMIN
from tests.api.conftest import make_token, seed_support


def _client(api, token: str, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api.url}/v1", api_key=token, max_retries=0, timeout=20, **kw)


def _runs(engine) -> list[Run]:
    with Session(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)))


def test_chat_echo_sync_and_logged(api_any, tokens):
    c = _client(api_any, tokens["run"])
    out = c.chat.completions.create(model="echo/echo", messages=[{"role": "user", "content": "Hello there"}],
                                    temperature=0.1)
    assert "Hello there" in out.choices[0].message.content
    assert out.choices[0].finish_reason == "stop" and out.usage.total_tokens > 0
    runs = _runs(api_any.engine)
    assert len(runs) == 1
    run = runs[0]
    assert (run.source, run.actor, run.endpoint, run.model) == ("gateway", "token:run-bot", "echo", "echo")
    assert run.params == {"temperature": 0.1} and out.id == f"chatcmpl-run{run.id}"


def test_prompt_model_rendered_server_side(api, tokens):
    seed_support(api.engine)
    c = _client(api, tokens["run"])
    out = c.chat.completions.create(model="prompt:support-reply@production", messages=[],
                                    extra_body={"variables": {"customer_name": "Ann", "message": "Charged twice"}})
    text = out.choices[0].message.content
    assert "You help Ann." in text and "Charged twice" in text
    run = _runs(api.engine)[-1]
    assert run.prompt_name == "support-reply" and run.version_number == 1 and run.model == "echo"
    assert run.params == {"temperature": 0.2} and run.variables["customer_name"] == "Ann"
    out = c.chat.completions.create(model="prompt:support-reply:1", messages=[], temperature=0.7,
                                    extra_body={"variables": {"customer_name": "Bo", "message": "x"}})
    assert _runs(api.engine)[-1].params == {"temperature": 0.7}  # the request overrides the version's params


def test_missing_variable_is_422_naming_it(api, tokens):
    seed_support(api.engine)
    c = _client(api, tokens["run"])
    with pytest.raises(openai.UnprocessableEntityError) as exc:
        c.chat.completions.create(model="prompt:support-reply@production", messages=[],
                                  extra_body={"variables": {"customer_name": "Ann"}})
    assert exc.value.status_code == 422 and "message" in exc.value.message
    assert exc.value.body["missing"] == ["message"]
    assert _runs(api.engine) == []  # refused before any call


def test_bad_token_401_read_scope_403(api, tokens):
    with pytest.raises(openai.AuthenticationError):
        _client(api, "wb_not-a-token").chat.completions.create(
            model="echo/echo", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.PermissionDeniedError) as exc:
        _client(api, tokens["read"]).chat.completions.create(
            model="echo/echo", messages=[{"role": "user", "content": "x"}])
    assert "run" in exc.value.message
    assert [m.id for m in _client(api, tokens["read"]).models.list()][0] == "echo/echo"  # read may list


def test_over_rpm_is_429_with_retry_after(api):
    token = make_token(api.engine, "tiny", "run", rpm=1)
    c = _client(api, token)
    c.chat.completions.create(model="echo/echo", messages=[{"role": "user", "content": "1"}])
    with pytest.raises(openai.RateLimitError) as exc:
        c.chat.completions.create(model="echo/echo", messages=[{"role": "user", "content": "2"}])
    assert int(exc.value.response.headers["retry-after"]) >= 1


def test_streaming_sync_with_final_usage_chunk(api, tokens):
    c = _client(api, tokens["run"])
    chunks = list(c.chat.completions.create(model="echo/echo", stream=True,
                                            messages=[{"role": "user", "content": "stream me please"}]))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert "stream me please" in text
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    run = _runs(api.engine)[-1]
    assert run.status == "ok" and run.source == "gateway" and run.ttft_ms is not None


def test_async_client_and_streaming(api, tokens):
    async def go():
        c = openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key=tokens["run"], max_retries=0, timeout=20)
        outs = await asyncio.gather(*[c.chat.completions.create(
            model="echo/echo", messages=[{"role": "user", "content": f"q{i}"}]) for i in range(8)])
        stream = await c.chat.completions.create(model="echo/echo", stream=True,
                                                 messages=[{"role": "user", "content": "async stream"}])
        parts = [ch.choices[0].delta.content or "" async for ch in stream if ch.choices]
        await c.close()
        return outs, "".join(parts)

    outs, streamed = asyncio.run(go())
    assert all(f"q{i}" in o.choices[0].message.content for i, o in enumerate(outs))
    assert "async stream" in streamed and len(_runs(api.engine)) == 9


def test_completions_embeddings_models_health(api, tokens):
    seed_support(api.engine)
    c = _client(api, tokens["run"])
    out = c.completions.create(model="echo/echo", prompt="complete this")
    assert "complete this" in out.choices[0].text
    emb = c.embeddings.create(model="echo/echo", input=["abc", "zzz"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 27
    ids = [m.id for m in c.models.list()]
    assert "echo/echo" in ids and "prompt:support-reply@production" in ids
    runs = _runs(api.engine)
    assert len(runs) == 2 and runs[1].params == {"mode": "embeddings", "inputs": 2}
    assert all(r.source == "gateway" and r.actor == "token:run-bot" for r in runs)
    h = httpx.get(f"{api.url}/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"


def test_bad_bodies_are_400_not_500(api, tokens):
    h = {"Authorization": f"Bearer {tokens['run']}"}
    for body in ({}, {"model": "nope"}, {"model": "echo/echo"}, {"model": "echo/echo", "messages": "hi"},
                 {"model": "prompt:missing@production", "messages": []}, {"model": "echo/echo", "n": 3,
                                                                          "messages": [{"role": "user"}]},
                 {"model": "no-such-endpoint/m", "messages": [{"role": "user", "content": "x"}]}):
        r = httpx.post(f"{api.url}/v1/chat/completions", json=body, headers=h)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.json()["error"]["message"]


def test_real_upstream_tools_and_upstream_failure(api, tokens, fake_server):
    from lib.client import add_endpoint
    from lib.db import session_scope
    from tests.fakefaults import Fault

    with session_scope(api.engine) as s:
        add_endpoint(actor=ADMIN, session=s, name="up", kind="openai", base_url=f"{fake_server.url}/v1",
                     models=["fake-model"])
    c = _client(api, tokens["run"])
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    fake_server.script(Fault(tool_calls=[{"name": "lookup", "arguments": {"order": 7}}]))
    out = c.chat.completions.create(model="up/fake-model", tools=tools,
                                    messages=[{"role": "user", "content": "where is order 7?"}])
    call = out.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and '"order"' in call.function.arguments
    assert out.choices[0].finish_reason == "tool_calls"
    assert fake_server.requests[-1].body["tools"] == tools  # the request's params reach the upstream
    fake_server.script(Fault(tool_calls=[{"name": "lookup", "arguments": {"order": 8}}]))
    chunks = list(c.chat.completions.create(model="up/fake-model", tools=tools, stream=True,
                                            messages=[{"role": "user", "content": "and order 8?"}]))
    streamed = [tc for ch in chunks if ch.choices for tc in (ch.choices[0].delta.tool_calls or [])]
    assert streamed[0].function.name == "lookup" and '"order"' in streamed[0].function.arguments
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "tool_calls"
    fake_server.script(*[Fault(status=503)] * 10)
    with pytest.raises(openai.APIStatusError) as exc:
        c.chat.completions.create(model="up/fake-model", messages=[{"role": "user", "content": "x"}])
    assert exc.value.status_code == 502 and exc.value.body["type"] == "upstream_error"
    run = _runs(api.engine)[-1]
    assert run.status == "error" and run.actor == "token:run-bot" and run.http_status == 503
