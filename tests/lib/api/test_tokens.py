"""API tokens: shown once, stored as sha256, scoped, revocable, rate limited; and the `tokens` CLI."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from lib.api import (
    AuthenticationFailed,
    RateLimited,
    TokenRateLimiter,
    authenticate,
    clear_token_cache,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
)
from lib.cli.app import build
from lib.db import session_scope
from lib.errors import ConflictError, PermissionDeniedError, ValidationError
from lib.identity import Identity, cli_operator
from lib.models import ApiToken

runner = CliRunner()


def setup_function(_fn):
    clear_token_cache()


def test_token_is_stored_hashed_and_authenticates(engine):
    with session_scope(engine) as s:
        token, info = create_token(session=s, actor=cli_operator(), name="deploy-bot", scope=["read", "run"],
                                   rpm=30)
    assert token.startswith("wb_") and len(token) > 40
    with session_scope(engine) as s:
        row = s.exec(select(ApiToken)).one()
        assert row.token_hash == hash_token(token) and token not in json.dumps(row.model_dump(mode="json"))
        assert row.created_by.startswith("cli:")
    ident, rpm = authenticate(engine=engine, authorization=f"Bearer {token}")
    assert ident == Identity(kind="token", name="deploy-bot", scopes=frozenset({"read", "run"}))
    assert ident.label == "token:deploy-bot" and rpm == 30 and info.scopes == ["read", "run"]


def test_bad_tokens_are_refused(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        token, _ = create_token(session=s, actor=cli_operator(), name="x", scope="read")
    for header in (None, "", "Basic abc", "Bearer", "Bearer wb_nope", f"Bearer {token}x", token):
        with pytest.raises(AuthenticationFailed):
            authenticate(engine=sqlite_engine, authorization=header)


def test_revoked_token_stops_at_once(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        token, _ = create_token(session=s, actor=cli_operator(), name="temp", scope="run")
    authenticate(engine=sqlite_engine, authorization=f"Bearer {token}")  # cached now
    with session_scope(sqlite_engine) as s:
        info = revoke_token(session=s, actor=cli_operator(), name="temp")
    assert info.revoked
    with pytest.raises(AuthenticationFailed):
        authenticate(engine=sqlite_engine, authorization=f"Bearer {token}")


def test_only_token_admins_create_and_revoke(sqlite_engine):
    editor = Identity(kind="user", name="ed", email="ed@example.com", role="editor")
    with session_scope(sqlite_engine) as s, pytest.raises(PermissionDeniedError):
        create_token(session=s, actor=editor, name="mine", scope="write")
    writer = Identity(kind="token", name="w", scopes=frozenset({"write"}))
    with session_scope(sqlite_engine) as s, pytest.raises(PermissionDeniedError):
        create_token(session=s, actor=writer, name="mine", scope="read")


def test_bad_names_scopes_and_duplicates(sqlite_engine):
    op = cli_operator()
    with session_scope(sqlite_engine) as s:
        for name, scope, rpm in (("bad name", "read", None), ("ok", "admin", None), ("ok", [], None),
                                 ("ok", "read", 0)):
            with pytest.raises(ValidationError):
                create_token(session=s, actor=op, name=name, scope=scope, rpm=rpm)
        create_token(session=s, actor=op, name="dup", scope="read")
        with pytest.raises(ConflictError):
            create_token(session=s, actor=op, name="dup", scope="read")


def test_rate_limiter_sliding_minute():
    now = [1000.0]
    lim = TokenRateLimiter(clock=lambda: now[0])
    for _ in range(3):
        lim.check("t", 3)
    with pytest.raises(RateLimited) as exc:
        lim.check("t", 3)
    assert exc.value.retry_after_s == 60
    now[0] += 45
    with pytest.raises(RateLimited) as exc:
        lim.check("t", 3)
    assert exc.value.retry_after_s == 15
    lim.check("other", 3)  # each token has its own window
    now[0] += 15
    lim.check("t", 3)


def test_cli_create_list_revoke(sqlite_engine):
    r = runner.invoke(build(), ["tokens", "create", "ci-bot", "--scope", "read", "--rpm", "60", "--json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["token"].startswith("wb_") and created["rpm"] == 60
    r = runner.invoke(build(), ["tokens", "list", "--json"])
    listed = json.loads(r.stdout)
    assert [t["name"] for t in listed] == ["ci-bot"] and "token" not in listed[0]
    assert created["token"] not in r.stdout
    r = runner.invoke(build(), ["tokens", "revoke", "ci-bot"])
    assert r.exit_code == 0 and "revoked" in r.stdout
    r = runner.invoke(build(), ["tokens", "revoke", "nobody"])
    assert r.exit_code == 2 and "no token named" in r.output
    r = runner.invoke(build(), ["tokens", "create", "x", "--scope", "root"])
    assert r.exit_code == 2 and "scope" in r.output
    with session_scope(sqlite_engine) as s:
        assert list_tokens(session=s)[0].revoked


def test_last_use_is_recorded(sqlite_engine):
    import time

    with session_scope(sqlite_engine) as s:
        token, _ = create_token(session=s, actor=cli_operator(), name="used", scope="read")
    authenticate(engine=sqlite_engine, authorization=f"Bearer {token}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with session_scope(sqlite_engine) as s:
            if list_tokens(session=s)[0].last_used_at:
                break
        time.sleep(0.05)
    with session_scope(sqlite_engine) as s:
        assert list_tokens(session=s)[0].last_used_at is not None
