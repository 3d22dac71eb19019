"""Token and webhook create/revoke/remove are audit events (who, what, when), never holding a token or a
webhook secret; a refused change leaves none. Through lib (SQLite and PostgreSQL) and through the CLI."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from lib.api import add_webhook, create_token, hash_token, remove_webhook, revoke_token
from lib.cli.app import build
from lib.db import session_scope
from lib.errors import PermissionDeniedError
from lib.models import AuditEvent
from tests.actors import ADMIN, EDITOR

HOOK_URL = "https://hooks.example.org/services/T0/B0/s3cr3tpath?sig=abc"


def _events(engine) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent).order_by(AuditEvent.id)))


def test_token_and_webhook_changes_are_audited_without_secrets(engine):
    with session_scope(engine) as s:
        token, _ = create_token(session=s, actor=ADMIN, name="deploy-bot", scope=["read", "run"], rpm=600)
    with session_scope(engine) as s:
        revoke_token(session=s, actor=ADMIN, name="deploy-bot")
    with session_scope(engine) as s:
        secret, hook = add_webhook(session=s, actor=ADMIN, url=HOOK_URL, events=["label.moved"])
    with session_scope(engine) as s:
        remove_webhook(session=s, actor=ADMIN, webhook_id=hook["id"])
    events = _events(engine)
    assert [(e.actor, e.action, e.object_type, e.object_id) for e in events] == [
        (ADMIN.label, "token.create", "token", "deploy-bot"),
        (ADMIN.label, "token.revoke", "token", "deploy-bot"),
        (ADMIN.label, "webhook.add", "webhook", str(hook["id"])),
        (ADMIN.label, "webhook.remove", "webhook", str(hook["id"])),
    ]
    assert all(e.created_at is not None for e in events)
    assert "read, run" in events[0].summary and "600" in events[0].summary
    assert "hooks.example.org" in events[2].summary and "label.moved" in events[2].summary
    text = json.dumps([e.model_dump(mode="json") for e in events])
    for leaked in (token, token[3:], hash_token(token), secret, secret.removeprefix("whsec_"), "s3cr3tpath",
                   "sig=abc"):
        assert leaked not in text


def test_refused_changes_leave_no_event(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        create_token(session=s, actor=ADMIN, name="t1", scope="read")
        _, hook = add_webhook(session=s, actor=ADMIN, url="https://example.org/h")
    before = len(_events(sqlite_engine))
    for call in (lambda s: create_token(session=s, actor=EDITOR, name="t2", scope="read"),
                 lambda s: revoke_token(session=s, actor=EDITOR, name="t1"),
                 lambda s: add_webhook(session=s, actor=EDITOR, url="https://example.org/x"),
                 lambda s: remove_webhook(session=s, actor=EDITOR, webhook_id=hook["id"])):
        with pytest.raises(PermissionDeniedError), session_scope(sqlite_engine) as s:
            call(s)
    assert len(_events(sqlite_engine)) == before


def test_cli_token_and_webhook_changes_show_in_audit_list(sqlite_engine):
    runner = CliRunner()
    r = runner.invoke(build(), ["tokens", "create", "ci-bot", "--scope", "read", "--json"])
    assert r.exit_code == 0, r.output
    token = json.loads(r.stdout)["token"]
    r = runner.invoke(build(), ["webhooks", "add", "https://example.org/hook/abc123", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    secret, hook_id = out["secret"], out["id"]
    for args in (["tokens", "revoke", "ci-bot"], ["webhooks", "remove", str(hook_id)]):
        r = runner.invoke(build(), args)
        assert r.exit_code == 0, r.output
    r = runner.invoke(build(), ["audit", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    rows = rows["events"] if isinstance(rows, dict) else rows
    mine = [(e["action"], e["object_id"]) for e in rows if e["object_type"] in ("token", "webhook")]
    assert sorted(mine) == sorted([("token.create", "ci-bot"), ("token.revoke", "ci-bot"),
                                   ("webhook.add", str(hook_id)), ("webhook.remove", str(hook_id))])
    assert all(e["actor"].startswith("cli:") for e in rows if e["object_type"] in ("token", "webhook"))
    assert token not in r.stdout and secret not in r.stdout and "abc123" not in r.stdout
