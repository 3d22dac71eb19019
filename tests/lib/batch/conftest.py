"""Fixtures shared by the batch tests."""

from __future__ import annotations

import pytest

from lib.client.model_client import reset_clients
from tests.fake_batch_api import install
from tests.fakeserver import FakeServer


@pytest.fixture
def batch_server(monkeypatch):
    """A fresh fake server with the provider Batch APIs (OpenAI Files + Batches, Anthropic Message Batches),
    polled every 0.05 s; endpoints name its key FAKE_KEY (= "sk-test-provider-batch")."""
    monkeypatch.setenv("WORKBENCH_PROVIDER_POLL_S", "0.05")
    monkeypatch.setenv("FAKE_KEY", "sk-test-provider-batch")
    srv = install(FakeServer().start())
    yield srv
    srv.stop()
    reset_clients()
