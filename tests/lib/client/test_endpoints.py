"""Endpoint rows: validation, defaults from the environment, host-change guard, health."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.errors import ConflictError, NotFoundError, ValidationError
from tests.actors import ADMIN


def test_split_model_ref():
    assert endpoints.split_model_ref("echo/echo") == ("echo", "echo")
    assert endpoints.split_model_ref("or/meta-llama/llama-3-8b") == ("or", "meta-llama/llama-3-8b")
    for bad in ("echo", "/x", "x/", ""):
        with pytest.raises(ValidationError):
            endpoints.split_model_ref(bad)


def test_add_list_update_delete(engine):
    with Session(engine) as s:
        e = endpoints.add_endpoint(actor=ADMIN, session=s, name="vllm", kind="openai", base_url="http://gpu:8000",
                                   api_key_env="VLLM_KEY", rpm=60, max_concurrency=4)
        s.commit()
        assert e.id and [x.name for x in endpoints.list_endpoints(session=s)] == ["vllm"]
        with pytest.raises(ConflictError):
            endpoints.add_endpoint(actor=ADMIN, session=s, name="vllm", kind="openai")
        for bad in (dict(name="a/b", kind="openai"), dict(name="x", kind="cohere"),
                    dict(name="x", kind="openai", base_url="ftp://h"), dict(name="x", kind="openai", rpm=0),
                    dict(name="x", kind="openai", api_key_env="sk-live-abc def")):
            with pytest.raises(ValidationError):
                endpoints.add_endpoint(actor=ADMIN, session=s, **bad)
        endpoints.update_endpoint(actor=ADMIN, session=s, name="vllm", base_url="http://gpu:8000/v1", rpm=120)
        assert endpoints.get_endpoint(session=s, name="vllm").rpm == 120
        endpoints.delete_endpoint(actor=ADMIN, session=s, name="vllm")
        s.commit()
        with pytest.raises(NotFoundError):
            endpoints.get_endpoint(session=s, name="vllm")


def test_host_change_requires_naming_the_key_again(engine):
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="gw", kind="openai", base_url="https://gw.example.com/v1",
                               api_key_env="GW_KEY")
        with pytest.raises(ValidationError, match="name the key again"):
            endpoints.update_endpoint(actor=ADMIN, session=s, name="gw", base_url="https://evil.example.net/v1")
        assert endpoints.get_endpoint(session=s, name="gw").base_url == "https://gw.example.com/v1"
        endpoints.update_endpoint(actor=ADMIN, session=s, name="gw",
                                  base_url="https://gw.example.com/openai/v1")  # same host
        e = endpoints.update_endpoint(actor=ADMIN, session=s, name="gw", base_url="https://new.example.net/v1",
                                      api_key_env="NEW_KEY")
        assert e.api_key_env == "NEW_KEY" and endpoints.host_of(e.base_url) == "new.example.net"


def test_ensure_defaults(engine, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with Session(engine) as s:
        assert endpoints.ensure_defaults(s, actor=ADMIN) == ["echo", "openai"]
        s.commit()
        assert endpoints.ensure_defaults(s, actor=ADMIN) == []
        oa = endpoints.get_endpoint(session=s, name="openai")
        assert oa.base_url == "http://127.0.0.1:9/v1" and oa.api_key_env == "OPENAI_API_KEY"
        assert endpoints.get_endpoint(session=s, name="echo").kind == "echo"


def test_builtin_echo_without_row(engine):
    with Session(engine) as s:
        assert endpoints.load_config(session=s, name="echo").kind == "echo"
        with pytest.raises(NotFoundError):
            endpoints.load_config(session=s, name="ghost")


def test_health_lists_models_and_reports_failures(sqlite_engine, fake_server, monkeypatch):
    monkeypatch.delenv("FAKE_KEY", raising=False)
    with Session(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="keyed", kind="openai", base_url=fake_server.url,
                               api_key_env="FAKE_KEY")
        endpoints.add_endpoint(actor=ADMIN, session=s, name="down", kind="openai", base_url="http://127.0.0.1:9")
        s.commit()
    c = ModelClient(sqlite_engine)
    try:
        h = c.health("fake")
        assert h["ok"] and "org/model-x" in h["models"] and h["latency_ms"] >= 0
        h = c.health("keyed")
        assert not h["ok"] and h["key_present"] is False and "FAKE_KEY" in h["error"]
        h = c.health("down", timeout_s=3)
        assert not h["ok"] and h["error"].startswith("unreachable")
        assert c.health("echo")["models"] == ["echo"]
    finally:
        c.close()


def test_key_destination_guard_covers_kind_change_and_scheme_downgrade(engine):
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oa", kind="openai",
                               api_key_env="OPENAI_API_KEY")  # default host
        endpoints.add_endpoint(actor=ADMIN, session=s, name="gw", kind="openai", base_url="https://gw.example.com/v1",
                               api_key_env="GW_KEY")
        # no base URL: switching the kind sends the OpenAI key to api.anthropic.com
        with pytest.raises(ValidationError, match="name the key again"):
            endpoints.update_endpoint(actor=ADMIN, session=s, name="oa", kind="anthropic")
        # same host, but http: the key would travel in clear text
        with pytest.raises(ValidationError, match="name the key again"):
            endpoints.update_endpoint(actor=ADMIN, session=s, name="gw", base_url="http://gw.example.com/v1")
        with pytest.raises(ValidationError, match="name the key again"):
            endpoints.update_endpoint(actor=ADMIN, session=s, name="gw", base_url="https://gw.example.com:8443/v1")
        assert endpoints.get_endpoint(session=s, name="oa").kind == "openai"
        endpoints.update_endpoint(actor=ADMIN, session=s, name="gw",
                                  base_url="https://GW.example.com:443/openai")  # same place
        endpoints.update_endpoint(actor=ADMIN, session=s, name="oa", base_url="https://api.openai.com/v1")  # default


def test_base_url_with_credentials_is_refused_without_echoing_them(engine):
    with Session(engine) as s:
        for url in ("https://user:sk-live-SECRET@api.example.com/v1", "https://sk-live-SECRET@api.example.com",
                    "ftp://u:sk-live-SECRET@h"):
            with pytest.raises(ValidationError) as info:
                endpoints.add_endpoint(actor=ADMIN, session=s, name="x", kind="openai", base_url=url)
            assert "SECRET" not in str(info.value)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="ok", kind="openai", base_url="https://api.example.com/v1")
        with pytest.raises(ValidationError, match="credentials") as info:
            endpoints.update_endpoint(actor=ADMIN, session=s, name="ok",
                                      base_url="https://k:sk-live-SECRET@api.example.com/v1")
        assert "SECRET" not in str(info.value)
        assert endpoints.get_endpoint(session=s, name="ok").base_url == "https://api.example.com/v1"


def test_health_never_echoes_a_key_the_server_sent_back(sqlite_engine, fake_server, monkeypatch):
    from tests.fakefaults import Fault

    key = "sk-live-0123456789abcdef"
    monkeypatch.setenv("FAKE_KEY", key)
    with Session(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="keyed", kind="openai", base_url=fake_server.url,
                               api_key_env="FAKE_KEY")
        s.commit()
    c = ModelClient(sqlite_engine)
    try:
        # some gateways put the presented key in their 401 body; health() (Settings page,
        # `endpoints test`) printed it verbatim while Run rows were already scrubbed
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}})
        fake_server.script(Fault(status=401, body=body))
        h = c.health("keyed")
        assert not h["ok"] and "refused the key" in h["error"] and key not in h["error"]
    finally:
        c.close()


def test_the_last_test_is_kept_on_the_endpoint_without_a_key_or_body(engine, fake_server, monkeypatch):
    """#15 item 11: a Test's result (ok / kind, our own short message, time) is stored; admins only."""
    from lib.errors import PermissionDeniedError
    from tests.actors import EDITOR
    from tests.fakefaults import Fault

    key = "sk-live-0123456789abcdef"
    monkeypatch.setenv("FAKE_KEY", key)
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="keyed", kind="openai", base_url=fake_server.url,
                               api_key_env="FAKE_KEY")
        s.commit()
        assert endpoints.get_endpoint(session=s, name="keyed").last_check_ok is None  # never tested
    c = ModelClient(engine)
    try:
        fake_server.script(Fault(status=401, body=json.dumps({"error": {"message": f"bad key {key} REMOTE-BODY"}})))
        failed = c.health("keyed")
        ok = c.health("keyed")
    finally:
        c.close()
    with Session(engine) as s:
        with pytest.raises(PermissionDeniedError):
            endpoints.record_check(actor=EDITOR, session=s, name="keyed", result=failed)
        row = endpoints.record_check(actor=ADMIN, session=s, name="keyed", result=failed)
        updated_at = row.updated_at
        s.commit()
    with Session(engine) as s:
        row = endpoints.get_endpoint(session=s, name="keyed")
        assert row.last_check_ok is False and row.last_check_kind == "key refused" and row.last_check_at
        assert "refused the key (HTTP 401)" in row.last_check_message
        assert key not in row.last_check_message and "REMOTE-BODY" not in row.last_check_message
        assert row.updated_at == updated_at and row.last_check_models == []
        endpoints.record_check(actor=ADMIN, session=s, name="keyed", result=ok)
        s.commit()
    with Session(engine) as s:
        row = endpoints.get_endpoint(session=s, name="keyed")
        assert row.last_check_ok is True and row.last_check_kind == "ok" and row.last_check_message == ""
        assert "org/model-x" in row.last_check_models and row.last_check_latency_ms is not None
