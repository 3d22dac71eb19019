"""A hostile or broken provider (#11 items 3, 4, 5, 6 and parts of 11), against the loopback fake server.

Every reply ends as one Run row (never an exception out of generate()), odd shapes become
`protocol` errors with the raw body kept, sizes are capped, Retry-After cannot remove the
backoff, and no part of the key survives in stored error text.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import Session, select

from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.client.retry import RetryPolicy
from lib.errors import ValidationError
from lib.models import Run
from lib.settings import get_settings
from tests.actors import ADMIN
from tests.fakefaults import Fault

MSG = [{"role": "user", "content": "hello there"}]
KEY = "sk-hostile-0123456789abcdefghij"


class Sleeps:
    """The injected sleep: records every delay, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, d: float) -> None:
        self.delays.append(d)


@pytest.fixture
def client(engine, fake_server, monkeypatch):
    monkeypatch.setenv("HOSTILE_API_KEY", KEY)
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url,
                               timeout_s=5.0,
                               api_key_env="HOSTILE_API_KEY")
        s.commit()
    sleeps = Sleeps()
    c = ModelClient(engine, policy=RetryPolicy(max_attempts=4, base_delay_s=0.25, jitter=0.0), sleep=sleeps)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    yield c
    c.close()


def gen(client, **kw):
    kw.setdefault("model", "fake/gpt-4o-mini")
    kw.setdefault("messages", MSG)
    return client.generate_sync(actor=ADMIN, **kw)


def runs(engine) -> list[Run]:
    with Session(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)).all())


def _body(content, **extra) -> str:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    choice.update(extra.pop("choice", {}))
    data = {"id": "x", "object": "chat.completion", "model": "m", "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    data.update(extra)
    return json.dumps(data)


# -- item 3: poison text is made storable at the one row builder -------------------------------------
@pytest.mark.parametrize("text, stored", [("bad \ud800 surrogate", "bad \ufffd surrogate"),
                                          ("nul \x00 inside", "nul  inside")])
def test_poison_text_is_stored(engine, client, fake_server, text, stored):
    # the rule: lone surrogates replaced (U+FFFD), NUL removed (before: NUL became U+FFFD, a
    # character the provider never sent)
    r = gen(client, variables={}, messages=[{"role": "user", "content": "q \ud801 and \x00 nul"}])
    assert r.status == "ok" and r.run_id is not None
    fake_server.script(Fault(text=text))
    r = gen(client)
    assert r.status == "ok" and r.run_id is not None and r.text == stored  # the Run row was written
    (first, run) = runs(engine)
    assert run.output == stored
    # the row says what was sent: the stored messages are the ones the provider received
    sent = fake_server.requests[0].body["messages"]
    assert sent == first.messages == [{"role": "user", "content": "q \ufffd and  nul"}]


# -- item 4: odd shapes become protocol errors, parts are joined, negative tokens refused ------------
@pytest.mark.parametrize("body, why", [
    (_body(42), "content"),
    (_body({"nested": True}), "content"),
    (_body("hi", choice={"finish_reason": 7}), "finish_reason"),
    (_body("hi", usage={"prompt_tokens": -5, "completion_tokens": 2}), "prompt_tokens"),
    (_body("hi", usage={"prompt_tokens": 3, "completion_tokens": 2.5}), "completion_tokens"),
    (_body("hi", usage=["not", "an", "object"]), "usage"),
    (json.dumps([1, 2, 3]), "choices"),
    (json.dumps("just a string"), "choices"),
])
def test_odd_shapes_are_protocol_errors_with_a_row(engine, client, fake_server, body, why):
    fake_server.script(Fault(body=body))
    r = gen(client)
    assert r.status == "error" and r.error_kind == "protocol", r
    assert why in r.error_message
    (run,) = runs(engine)
    assert run.status == "error" and (run.cost_usd or 0) >= 0
    assert "body:" in run.error_message  # the raw body kept (capped)
    assert fake_server.count("/v1/chat/completions") == 1  # a protocol error is not retried


def test_content_parts_are_joined_as_text(engine, client, fake_server):
    fake_server.script(Fault(body=_body([{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}])))
    r = gen(client)
    assert r.status == "ok" and r.text == "Hello, world"


# -- item 5: reply size caps ---------------------------------------------------------------------
def test_a_64_mb_body_is_capped(engine, client, fake_server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_RESPONSE_BYTES", str(1024 * 1024))
    get_settings.cache_clear()
    fake_server.script(Fault(body=_body("x" * (64 * 1024 * 1024))))
    r = gen(client)
    assert r.status == "error" and r.error_kind == "protocol" and "too large" in r.error_message
    (run,) = runs(engine)
    assert len(run.error_message) <= 4000 and len(run.output) <= 1024 * 1024
    get_settings.cache_clear()


def test_streamed_text_is_capped_and_keeps_the_first_part(engine, client, fake_server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_RESPONSE_BYTES", "2000")
    get_settings.cache_clear()
    fake_server.script(Fault(text="word " * 2000))
    with client.stream_sync(actor=ADMIN, model="fake/gpt-4o-mini", messages=MSG) as st:
        text = st.text()
    r = st.result
    assert r is not None and r.status == "incomplete" and "too large" in r.error_message
    assert 0 < len(r.text) <= 2000 and "word word" in text
    (run,) = runs(engine)
    assert run.status == "incomplete" and run.output == r.text
    get_settings.cache_clear()


# -- item 6: Retry-After 0 or negative cannot remove the backoff -----------------------------------
@pytest.mark.parametrize("value", ["0", "-5"])
def test_retry_after_zero_or_negative_keeps_the_base_delay(engine, client, fake_server, value):
    fake_server.script(*[Fault(status=429, headers={"retry-after": value})] * 3)
    r = gen(client)
    assert r.status == "ok" and r.attempts == 4
    assert client.sleeps.delays == [0.25, 0.25, 0.25]  # the policy's floor, never 0


# -- item 11 parts -----------------------------------------------------------------------------------
def test_a_key_prefix_echoed_in_an_error_is_masked(engine, client, fake_server):
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY[:14]}*************hij"}})
    fake_server.script(Fault(status=401, body=body))
    r = gen(client)
    assert r.status == "error" and r.error_kind == "auth"
    (run,) = runs(engine)
    assert KEY[:10] not in run.error_message and "***" in run.error_message


def test_model_must_be_a_string(client):
    with pytest.raises(ValidationError, match="model"):
        gen(client, model=123)


def test_a_message_over_the_size_limit_is_refused_before_any_call(client, fake_server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_MESSAGE_BYTES", "1000")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="message 2"):
        gen(client, messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "y" * 1001}])
    assert fake_server.count() == 0
    get_settings.cache_clear()


def test_a_stream_cut_by_the_deadline_is_incomplete_with_its_text(engine, fake_server, monkeypatch):
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="slow", kind="openai", base_url=fake_server.url,
                               timeout_s=1.0)
        s.commit()
    c = ModelClient(engine)
    try:
        fake_server.script(Fault(text="one two three four", stall_after=2, stall_s=3.0))

        async def consume():
            parts, result = [], None
            async for ev in c.stream(actor=ADMIN, model="slow/m", messages=MSG):
                if ev.type == "delta":
                    parts.append(ev.text)
                else:
                    result = ev.result
            return parts, result

        parts, result = asyncio.run(consume())
        assert parts == ["one ", "two "]
        assert result.status == "incomplete" and result.text == "one two " and "deadline" in result.error_message
        (run,) = runs(engine)
        assert run.status == "incomplete" and run.output == "one two "
    finally:
        c.close()
