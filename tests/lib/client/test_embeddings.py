"""Embeddings through the one executor (#10 item 5): the endpoint's retry policy and limiter,
one Run row per call from the one row builder, failures recorded then raised."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from lib.client import embed, endpoints
from lib.client.model_client import ModelClient
from lib.client.retry import RetryPolicy
from lib.errors import AuthenticationError
from lib.models import Run
from tests.actors import ADMIN
from tests.fakefaults import Fault


def _client(engine, server) -> ModelClient:
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=server.url, timeout_s=5.0)
        s.commit()
    sleeps: list[float] = []

    async def sleep(d: float) -> None:
        sleeps.append(d)

    client = ModelClient(engine, policy=RetryPolicy(base_delay_s=0.01, jitter=0), sleep=sleep)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def _runs(engine) -> list[Run]:
    with Session(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)).all())


def test_embedding_503_is_retried_and_recorded_once(sqlite_engine, fake_server):
    client = _client(sqlite_engine, fake_server)
    try:
        fake_server.script(Fault(status=503, path="/v1/embeddings"))
        vectors = asyncio.run(embed("fake/emb", ["abc", "de"], client=client, source="batch", batch_job_id=7,
                                    actor=ADMIN))
        assert len(vectors) == 2 and fake_server.count("/v1/embeddings") == 2
        assert client.sleeps == [0.01]  # the policy's backoff, through the injected sleep
        runs = _runs(sqlite_engine)
        assert len(runs) == 1
        run = runs[0]
        assert (run.status, run.attempts, run.source, run.batch_job_id) == ("ok", 2, "batch", 7)
        assert run.endpoint == "fake" and run.model == "emb" and run.usage_estimated is True
        assert run.params == {"mode": "embeddings", "inputs": 2}
    finally:
        client.close()


def test_embedding_failure_is_recorded_then_raised(sqlite_engine, fake_server):
    client = _client(sqlite_engine, fake_server)
    try:
        fake_server.script(Fault(status=401, body='{"error": {"message": "bad key"}}', path="/v1/embeddings"))
        with pytest.raises(AuthenticationError):
            asyncio.run(embed("fake/emb", ["abc"], client=client, actor=ADMIN))
        (run,) = _runs(sqlite_engine)
        assert run.status == "error" and run.error_kind == "auth" and run.attempts == 1
    finally:
        client.close()


def test_echo_embeddings_go_through_the_client(sqlite_engine):
    client = ModelClient(sqlite_engine)
    try:
        (v,) = asyncio.run(embed("echo/echo", ["abz!"], client=client, actor=ADMIN))
        assert v[0] == 1.0 and v[1] == 1.0 and v[25] == 1.0 and v[26] == 1.0
        assert [r.endpoint for r in _runs(sqlite_engine)] == ["echo"]
    finally:
        client.close()
