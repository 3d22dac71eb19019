"""The SDK package (clients/python) against the prompt API: cache, 304 revalidation, typed errors, and the
last good copy served while the server is stopped."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import make_token, seed_support, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from workbench_client import (  # noqa: E402
    AuthenticationError,
    MissingVariablesError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WorkbenchClient,
    WorkbenchConnectionError,
)


def test_cache_then_etag_revalidation(api, tokens):
    seed_support(api.engine)
    with WorkbenchClient(api.url, tokens["read"], cache_ttl=60) as wb:
        p = wb.get_prompt("support-reply", label="production")
        assert p.version == 1 and p.labels == ["production"] and not p.from_cache and p.etag
        assert wb.get_prompt("support-reply", label="production").from_cache
        assert wb.get_cache_stats()["hits"] == 1
    with WorkbenchClient(api.url, tokens["read"], cache_ttl=0) as wb:
        first = wb.get_prompt("support-reply", label="production")
        again = wb.get_prompt("support-reply", label="production")  # If-None-Match -> 304
        assert again.version == first.version and again.from_cache and not again.stale
        assert wb.get_cache_stats()["revalidated"] == 1
        httpx.put(f"{api.url}/api/v1/prompts/support-reply/labels/staging", json={"version": 1},
                  headers={"Authorization": f"Bearer {tokens['write']}"}).raise_for_status()
        changed = wb.get_prompt("support-reply", label="production")  # all_labels changed: a new body
        assert not changed.from_cache and wb.get_cache_stats()["refreshed"] == 1
        assert wb.clear_cache("support-reply") == 1 and wb.get_cache_stats()["size"] == 0


def test_stale_copy_while_server_is_stopped(sqlite_engine):
    seed_support(sqlite_engine)
    token = make_token(sqlite_engine, "sdk", "read")
    srv = start_server(sqlite_engine)
    port = int(srv.url.rsplit(":", 1)[1])
    wb = WorkbenchClient(srv.url, token, cache_ttl=0, timeout=2)
    try:
        good = wb.get_prompt("support-reply", label="production")
        srv.stop()
        stale = wb.get_prompt("support-reply", label="production")
        assert stale.stale and stale.version == good.version and stale.messages == good.messages
        assert wb.get_cache_stats()["stale_served"] == 1
        with pytest.raises(WorkbenchConnectionError) as exc:
            wb.get_prompt("support-reply", version=1)  # never fetched: nothing to serve
        assert exc.value.retryable
        assert wb.health_check()["healthy"] is False
        srv = start_server(sqlite_engine, port=port)  # back: revalidates and is fresh again
        fresh = wb.get_prompt("support-reply", label="production")
        assert not fresh.stale and wb.health_check()["healthy"] is True
    finally:
        wb.close()
        srv.stop()


def test_typed_errors(api, tokens):
    seed_support(api.engine)
    with WorkbenchClient(api.url, tokens["read"]) as wb:
        assert wb.render_prompt("support-reply", {"customer_name": "A", "message": "m"})[0]["content"] == "You help A."
        with pytest.raises(MissingVariablesError) as exc:
            wb.render_prompt("support-reply", {"customer_name": "A"}, label="production")
        assert exc.value.missing == ["message"] and not exc.value.retryable
        with pytest.raises(NotFoundError):
            wb.get_prompt("nope")
        page = wb.list_prompts(tag="support")
        assert page["total"] == 1 and page["data"][0]["name"] == "support-reply"
    with WorkbenchClient(api.url, "wb_bad") as wb, pytest.raises(AuthenticationError):
        wb.get_prompt("support-reply")
    slow = make_token(api.engine, "one-per-minute", "read", rpm=1)
    with WorkbenchClient(api.url, slow) as wb:
        wb.list_prompts()
        with pytest.raises(RateLimitError) as exc:
            wb.list_prompts()
        assert exc.value.retryable and exc.value.retry_after >= 1


def test_scope_error_is_typed(api, tokens):
    seed_support(api.engine)
    with WorkbenchClient(api.url, tokens["read"]) as wb, pytest.raises(PermissionDeniedError):
        wb._request("POST", "/api/v1/prompts/support-reply/versions",
                    json={"messages": [{"role": "user", "content": "x"}]})
