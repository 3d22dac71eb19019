"""Webhooks: a label move and a new version reach a loopback receiver, signed (HMAC-SHA256), retried on
500, every attempt in the delivery log; uncommitted writes send nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from lib.api import (
    Dispatcher,
    RetryPolicy,
    add_webhook,
    deliveries,
    enable_webhooks,
    list_webhooks,
    remove_webhook,
    set_dispatcher,
    verify_signature,
)
from lib.cli.app import build
from lib.db import session_scope
from lib.errors import PermissionDeniedError, ValidationError
from lib.identity import Identity, cli_operator
from lib.models import LabelEvent
from lib.prompts import create_prompt, save_version, set_label
from tests.actors import ADMIN


class Receiver:
    """A loopback HTTP server answering scripted statuses and keeping what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.got = list(statuses), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers), body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fast_dispatcher():
    enable_webhooks()
    d = Dispatcher(RetryPolicy(attempts=3, base_delay_s=0.05, timeout_s=5))
    old = set_dispatcher(d)
    yield d
    set_dispatcher(old)


def test_signed_delivery_retried_and_logged(engine, fast_dispatcher):
    rx = Receiver([500, 200])
    try:
        with session_scope(engine) as s:
            secret, hook = add_webhook(session=s, actor=cli_operator(), url=rx.url, events=["label.moved"])
        with session_scope(engine) as s:
            create_prompt(actor=ADMIN, session=s, name="support", messages=[{"role": "user", "content": "hi"}])
            set_label(actor=ADMIN, session=s, name="support", label="production", version=1)
        assert fast_dispatcher.drain(20)
        assert len(rx.got) == 2  # 500, then 200; version.created is not subscribed
        for headers, body in rx.got:
            assert verify_signature(secret, body, headers["X-Workbench-Signature"])
            assert not verify_signature("whsec_other", body, headers["X-Workbench-Signature"])
        event = json.loads(rx.got[1][1])
        assert event["event"] == "label.moved" and event["data"]["prompt"] == "support"
        assert event["data"]["label"] == "production" and event["data"]["to_version"] == 1
        with session_scope(engine) as s:
            log = deliveries(session=s, webhook_id=hook["id"])
        assert [(d["attempt"], d["status_code"], d["ok"]) for d in log] == [(2, 200, True), (1, 500, False)]
        assert log[0]["event_id"] == log[1]["event_id"] == event["id"]
    finally:
        rx.close()


def test_new_versions_every_event_and_gives_up_after_attempts(sqlite_engine, fast_dispatcher):
    rx = Receiver([503, 503, 503, 503])
    try:
        with session_scope(sqlite_engine) as s:
            add_webhook(session=s, actor=cli_operator(), url=rx.url)
            create_prompt(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "a"}])
        assert fast_dispatcher.drain(20)
        assert len(rx.got) == 3  # attempts=3, then given up
        assert json.loads(rx.got[0][1])["event"] == "version.created"
        with session_scope(sqlite_engine) as s:
            assert [d["ok"] for d in deliveries(session=s)] == [False, False, False]
    finally:
        rx.close()


def test_rolled_back_writes_send_nothing_and_removed_hooks_are_quiet(sqlite_engine, fast_dispatcher):
    rx = Receiver([])
    try:
        with session_scope(sqlite_engine) as s:
            _, hook = add_webhook(session=s, actor=cli_operator(), url=rx.url)
        with session_scope(sqlite_engine) as s:
            v = create_prompt(actor=ADMIN, session=s, name="q", messages=[{"role": "user", "content": "a"}])
        with pytest.raises(RuntimeError), session_scope(sqlite_engine) as s:
            s.add(LabelEvent(prompt_id=v.prompt_id, label="never", to_version=1))
            s.flush()
            raise RuntimeError("abort")  # rolled back: no event
        with session_scope(sqlite_engine) as s:
            s.add(LabelEvent(prompt_id=v.prompt_id, label="dropped", to_version=1))
            s.flush()
            s.rollback()
            s.commit()  # nothing left to commit: the rolled-back move is not sent either
        assert fast_dispatcher.drain(20)
        assert [json.loads(b)["event"] for _, b in rx.got] == ["version.created"]
        with session_scope(sqlite_engine) as s:
            remove_webhook(session=s, actor=cli_operator(), webhook_id=hook["id"])
            assert list_webhooks(session=s)[0]["active"] is False
            save_version(actor=ADMIN, session=s, name="q", messages=[{"role": "user", "content": "c"}])
        assert fast_dispatcher.drain(20) and len(rx.got) == 1
    finally:
        rx.close()


def test_only_admins_register_and_urls_are_checked(sqlite_engine):
    editor = Identity(kind="user", name="e", email="e@x.org", role="editor")
    with session_scope(sqlite_engine) as s:
        with pytest.raises(PermissionDeniedError):
            add_webhook(session=s, actor=editor, url="https://example.org/h")
        for url in ("ftp://x/h", "not a url", "https://"):
            with pytest.raises(ValidationError):
                add_webhook(session=s, actor=cli_operator(), url=url)
        with pytest.raises(ValidationError):
            add_webhook(session=s, actor=cli_operator(), url="https://example.org/h", events=["deleted"])


def test_cli_add_list_deliveries(sqlite_engine, fast_dispatcher):
    rx = Receiver([])
    try:
        runner = CliRunner()
        r = runner.invoke(build(), ["webhooks", "add", rx.url, "--event", "label.moved", "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["secret"].startswith("whsec_")
        r = runner.invoke(build(), ["prompts", "create", "cli-p", "--message", "user:hi"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(build(), ["prompts", "label", "cli-p", "1", "staging"])
        assert r.exit_code == 0, r.output
        assert fast_dispatcher.drain(20) and len(rx.got) == 1
        r = runner.invoke(build(), ["webhooks", "deliveries", "--json"])
        assert json.loads(r.stdout)[0]["ok"] is True
        r = runner.invoke(build(), ["webhooks", "list"])
        assert rx.url in r.stdout and "whsec_" not in r.stdout
    finally:
        rx.close()
