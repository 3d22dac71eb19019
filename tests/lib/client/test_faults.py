"""Fault tests of the client against the loopback fake provider: request counts and gaps."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.client.retry import RetryPolicy
from lib.models import Run
from tests.actors import ADMIN
from tests.fakefaults import Fault
from tests.fakeserver import free_port

MSG = [{"role": "system", "content": "sys"}, {"role": "user", "content": "alpha beta gamma delta"}]
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.2, multiplier=2.0, jitter=0.0, max_delay_s=5.0,
                   retry_after_cap_s=60.0)


def make_client(engine, server, *, kind="openai", name="fake", policy=FAST, sleep=None, **kw) -> ModelClient:
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name=name, kind=kind,
                               base_url=server.url if server else kw.pop("base_url"),
                               **kw)
        s.commit()
    return ModelClient(engine, policy=policy, sleep=sleep)


@pytest.fixture
def slept():
    """The delays the client waited between attempts (#11 item 13: asserted as values, not as wall-clock gaps)."""
    return []


@pytest.fixture
def recording(sqlite_engine, fake_server, slept):
    """A client whose backoff sleep is injected: it records each delay and returns at once."""
    async def sleep(delay: float) -> None:
        slept.append(round(delay, 3))
        await asyncio.sleep(0)

    c = make_client(sqlite_engine, fake_server, timeout_s=5.0, sleep=sleep)
    yield c
    c.close()


@pytest.fixture
def client(sqlite_engine, fake_server):
    c = make_client(sqlite_engine, fake_server, timeout_s=5.0)
    yield c
    c.close()


def gen(client, **kw):
    kw.setdefault("model", "fake/gpt-4o-mini")
    kw.setdefault("messages", MSG)
    return client.generate_sync(actor=ADMIN, **kw)


def test_ok_roundtrip_records_run(client, fake_server, sqlite_engine):
    r = gen(client)
    assert r.status == "ok" and r.text == "echo: alpha beta gamma delta"
    assert r.prompt_tokens == 11 and not r.usage_estimated and r.attempts == 1
    assert fake_server.count("/v1/chat/completions") == 1
    body = fake_server.requests[0].body
    assert body["model"] == "gpt-4o-mini" and body["messages"] == MSG
    with Session(sqlite_engine) as s:
        run = s.exec(select(Run)).one()
    assert run.id == r.run_id and run.output == r.text and run.status == "ok" and run.endpoint == "fake"


def test_429_retry_after_2s(recording, fake_server, slept):
    fake_server.script(Fault(status=429, headers={"retry-after": "2"}))
    r = gen(recording)
    assert r.status == "ok" and r.attempts == 2
    assert fake_server.count() == 2
    assert slept == [2.0]


def test_429_retry_after_ms(recording, fake_server, slept):
    fake_server.script(Fault(status=429, headers={"retry-after-ms": "300", "retry-after": "9"}))
    r = gen(recording)
    assert r.status == "ok" and fake_server.count() == 2
    assert slept == [0.3]  # the millisecond header wins over retry-after


def test_429_without_header_three_times_backs_off(recording, fake_server, slept):
    fake_server.script(Fault(status=429), Fault(status=429), Fault(status=429))
    r = gen(recording)
    assert r.status == "ok" and r.attempts == 4 and fake_server.count() == 4
    assert slept == [0.2, 0.4, 0.8]  # base 0.2 s doubling, no jitter


def test_429_every_time_gives_up_after_max_attempts(client, fake_server):
    fake_server.script(*[Fault(status=429)] * 6)
    r = gen(client)
    assert r.status == "error" and r.error_kind == "rate_limited" and r.attempts == 4
    assert fake_server.count() == 4 and r.http_status == 429


def test_retry_after_3600_fails_fast(recording, fake_server, slept):
    fake_server.script(Fault(status=429, headers={"retry-after": "3600"}))
    r = gen(recording)
    assert slept == []  # gave up instead of waiting an hour
    assert r.status == "error" and r.error_kind == "rate_limited" and fake_server.count() == 1
    assert "3600" in r.error_message


def test_500_503_then_200(client, fake_server):
    fake_server.script(Fault(status=500), Fault(status=503))
    r = gen(client)
    assert r.status == "ok" and r.attempts == 3 and fake_server.count() == 3


@pytest.mark.parametrize("status,kind", [(400, "bad_request"), (401, "auth"), (422, "bad_request"),
                                         (403, "auth"), (404, "not_found")])
def test_client_errors_are_not_retried(client, fake_server, status, kind):
    fake_server.script(Fault(status=status, headers={"x-request-id": "req_abc"}))
    r = gen(client)
    assert r.status == "error" and r.error_kind == kind and r.http_status == status
    assert fake_server.count() == 1 and r.request_id == "req_abc"
    assert f"fake error {status}" in r.error_message and r.cost_usd is None


# The server hangs (or drips) far longer than any test runs, so the call can only have been ended by
# the client; the message and the single attempt say it was the 1 s deadline, not the endpoint's 5 s
# read timeout (which is retried).  #11 item 13: no wall-clock bound.
def test_hang_before_headers_hits_deadline(client, fake_server):
    fake_server.script(Fault(hang_s=600))
    r = gen(client, deadline_s=1.0)
    assert r.status == "error" and r.error_kind == "timeout" and "1s deadline" in r.error_message
    assert r.attempts == 1 and fake_server.count() == 1


def test_slow_drip_hits_deadline(client, fake_server):
    fake_server.script(Fault(drip_s=600))
    r = gen(client, deadline_s=1.0)
    assert r.status == "error" and r.error_kind == "timeout" and "1s deadline" in r.error_message
    assert r.attempts == 1 and fake_server.count() == 1


def test_stream_hang_hits_deadline(client, fake_server):
    fake_server.script(Fault(hang_s=600))
    s = client.stream_sync(actor=ADMIN, model="fake/m", messages=MSG, deadline_s=1.0)
    assert list(s) == []
    assert s.result.status == "error" and s.result.error_kind == "timeout" and "1s deadline" in s.result.error_message
    assert s.result.attempts == 1 and fake_server.count() == 1


def test_sse_cut_before_done_is_incomplete_with_partial_text(client, fake_server, sqlite_engine):
    fake_server.script(Fault(cut_after=2))
    s = client.stream_sync(actor=ADMIN, model="fake/m", messages=MSG)
    chunks = list(s)
    assert "".join(chunks) == "echo: alpha "
    assert s.result.status == "incomplete" and s.result.text == "echo: alpha " and s.result.attempts == 1
    with Session(sqlite_engine) as ss:
        run = ss.get(Run, s.result.run_id)
    assert run.status == "incomplete" and run.output == "echo: alpha "
    assert fake_server.count() == 1


def test_sse_ok_stream_has_usage_and_ttft(client, fake_server):
    s = client.stream_sync(actor=ADMIN, model="fake/m", messages=MSG)
    assert "".join(s) == "echo: alpha beta gamma delta"
    r = s.result
    assert r.status == "ok" and r.prompt_tokens == 11 and r.ttft_ms is not None and r.finish_reason == "stop"
    assert fake_server.requests[0].body["stream_options"] == {"include_usage": True}


def test_error_event_after_200(client, fake_server):
    fake_server.script(Fault(error_event=True))
    s = client.stream_sync(actor=ADMIN, model="fake/m", messages=MSG)
    text = "".join(s)
    assert s.result.status == "error" and s.result.error_kind == "protocol"
    assert "overloaded mid-stream" in s.result.error_message and s.result.text == text
    assert fake_server.count() == 1


@pytest.mark.parametrize("body,needle", [("{not json", "malformed JSON"), ('{"id": "x"}', "no choices")])
def test_malformed_bodies(client, fake_server, body, needle):
    fake_server.script(Fault(body=body))
    r = gen(client)
    assert r.status == "error" and r.error_kind == "protocol" and needle in r.error_message
    assert fake_server.count() == 1


def test_connection_refused(sqlite_engine, slept):
    port = free_port()

    async def sleep(delay: float) -> None:
        slept.append(round(delay, 3))

    c = make_client(sqlite_engine, None, base_url=f"http://127.0.0.1:{port}",
                    policy=RetryPolicy(max_attempts=3, base_delay_s=0.05, jitter=0.0), sleep=sleep)
    try:
        r = c.generate_sync(actor=ADMIN, model="fake/m", messages=MSG)
        assert r.status == "error" and r.error_kind == "connection" and r.attempts == 3
        assert len(slept) == 2 and slept[0] < slept[1]  # two backoffs between three attempts
    finally:
        c.close()


def test_missing_key_is_auth_error_without_request(sqlite_engine, fake_server, monkeypatch):
    monkeypatch.delenv("WB_TEST_ABSENT_KEY", raising=False)
    c = make_client(sqlite_engine, fake_server, api_key_env="WB_TEST_ABSENT_KEY")
    try:
        r = c.generate_sync(actor=ADMIN, model="fake/m", messages=MSG)
        assert r.status == "error" and r.error_kind == "auth" and "WB_TEST_ABSENT_KEY" in r.error_message
        assert fake_server.count() == 0
    finally:
        c.close()


# -- Anthropic ------------------------------------------------------------------------------------
@pytest.fixture
def aclient(sqlite_engine, fake_server, monkeypatch):
    monkeypatch.setenv("WB_TEST_ANT_KEY", "ant-test-key")
    c = make_client(sqlite_engine, fake_server, kind="anthropic", name="ant", api_key_env="WB_TEST_ANT_KEY",
                    timeout_s=5.0)
    yield c
    c.close()


def test_anthropic_generate_and_headers(aclient, fake_server):
    r = aclient.generate_sync(actor=ADMIN, model="ant/claude-fake", messages=MSG, params={"stop": "X",
                              "temperature": 0.1})
    assert r.status == "ok" and r.text == "echo: alpha beta gamma delta" and r.prompt_tokens == 12
    req = fake_server.requests[0]
    assert req.path == "/v1/messages" and req.headers["x-api-key"] == "ant-test-key"
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.body["system"] == "sys" and req.body["messages"] == [MSG[1]]
    assert req.body["stop_sequences"] == ["X"] and req.body["max_tokens"] == 1024


def test_anthropic_stream_ok_cut_and_error_event(aclient, fake_server):
    s = aclient.stream_sync(actor=ADMIN, model="ant/claude-fake", messages=MSG)
    assert "".join(s) == "echo: alpha beta gamma delta"
    assert s.result.status == "ok" and s.result.completion_tokens == 5 and s.result.finish_reason == "end_turn"
    fake_server.script(Fault(cut_after=1))
    s = aclient.stream_sync(actor=ADMIN, model="ant/claude-fake", messages=MSG)
    assert "".join(s) == "echo: " and s.result.status == "incomplete" and s.result.text == "echo: "
    fake_server.script(Fault(error_event=True))
    s = aclient.stream_sync(actor=ADMIN, model="ant/claude-fake", messages=MSG)
    list(s)
    assert s.result.status == "error" and "Overloaded" in s.result.error_message


def test_anthropic_retries_529_then_ok(aclient, fake_server):
    fake_server.script(Fault(status=529), Fault(status=429, headers={"retry-after": "0"}))
    r = aclient.generate_sync(actor=ADMIN, model="ant/claude-fake", messages=MSG)
    assert r.status == "ok" and r.attempts == 3 and fake_server.count() == 3


def test_anthropic_stream_429_before_text_is_retried(aclient, fake_server):
    fake_server.script(Fault(status=429, headers={"retry-after-ms": "100"}))
    s = aclient.stream_sync(actor=ADMIN, model="ant/claude-fake", messages=MSG)
    assert "".join(s) == "echo: alpha beta gamma delta"
    assert s.result.status == "ok" and s.result.attempts == 2 and fake_server.count() == 2


# -- rate limits ------------------------------------------------------------------------------------
def test_rate_limited_server_200_calls(sqlite_engine, fake_server):
    """Server: 10 req/s, burst 20, 429 beyond.  All 200 calls succeed; at most 10% of requests get 429."""
    fake_server.rate_limit(rate=10, burst=20)
    c = make_client(sqlite_engine, fake_server, rpm=600, max_concurrency=16, timeout_s=60.0,
                    policy=RetryPolicy(max_attempts=6, base_delay_s=0.5, jitter=0.2))

    async def main():
        return await asyncio.gather(*[c.generate(actor=ADMIN, model="fake/m", messages=[{"role": "user",
                                                 "content": str(i)}],
                                                 record=False) for i in range(200)])
    try:
        results = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        c.close()
    assert all(r.status == "ok" for r in results)
    total = fake_server.count()
    assert total >= 200 and fake_server.rejected <= 0.1 * total


def test_retry_waiting_for_a_slot_is_bounded_by_the_deadline(sqlite_engine, fake_server):
    # the retry's wait for a concurrency slot was outside the deadline: a call with a 1.5 s
    # deadline sat behind a 4 s call for the whole 4 s (and only then reported a timeout)
    c = make_client(sqlite_engine, fake_server, timeout_s=10.0, max_concurrency=1)
    fake_server.script(Fault(status=500), Fault(delay_s=4.0))

    finished: list[str] = []

    async def call(name: str, **kw):
        r = await c.generate(actor=ADMIN, model="fake/gpt-4o-mini", messages=MSG, **kw)
        finished.append(name)
        return r

    async def both():
        first = asyncio.create_task(call("first", deadline_s=1.5))
        await asyncio.sleep(0.05)  # the second call queues for the slot the first one holds
        second = asyncio.create_task(call("second", deadline_s=10.0))
        return await first, await second

    try:
        r1, r2 = c.run(both(), 30)
        # order, not seconds (#11 item 13): the first call's deadline ended its wait for the slot while the
        # second still held it; its retry was never sent (before: it waited the whole 4 s, then timed out)
        assert finished == ["first", "second"]
        assert r1.status == "error" and r1.error_kind == "timeout" and "deadline" in r1.error_message
        assert r1.attempts == 1 and fake_server.count() == 2
        assert r2.status == "ok"
    finally:
        c.close()
