"""Durable webhooks: a process killed with SIGKILL after its label move committed loses no event.

A real subprocess moves a label (the event is written to the outbox in the same transaction) and is
killed; a second process (`python -m lib webhooks deliver`, as a restarted server would) resumes the
outbox. A loopback receiver checks every HMAC signature. Delivery is at least once: killed before its
delivery, the receiver gets the event exactly once; killed while its POST was in flight, the receiver gets
it twice with the same `X-Workbench-Delivery` id and keeps one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlmodel import Session, select

from lib.api import add_webhook, deliveries, verify_signature
from lib.db import session_scope
from lib.identity import cli_operator
from lib.models import WebhookOutbox
from lib.prompts import create_prompt
from tests.actors import ADMIN

ROOT = Path(__file__).resolve().parents[3]

# Moves `support`'s staging label in its own process, says so, then waits to be killed.
MOVER = textwrap.dedent("""
    import sys, time
    from lib.api import enable_webhooks
    from lib.db import session_scope
    from lib.identity import cli_operator
    from lib.prompts import set_label

    enable_webhooks()
    with session_scope() as s:
        set_label(session=s, actor=cli_operator(), name="support", label="staging", version=1)
    print("committed", flush=True)
    time.sleep(600)
""")


class Receiver:
    """A loopback webhook receiver: `mode` is 'refuse' (503), 'hold' (never answers) or 'accept' (200)."""

    def __init__(self, secret: str) -> None:
        self.secret, self.mode = secret, "refuse"
        self.got: list[tuple[str, str, bool]] = []  # (mode when received, delivery id, signature ok)
        self.accepted: dict[str, dict] = {}  # delivery id -> event: what a deduplicating receiver keeps
        self.held = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify_signature(outer.secret, body, self.headers.get("X-Workbench-Signature"))
                delivery = self.headers.get("X-Workbench-Delivery", "")
                mode = outer.mode
                outer.got.append((mode, delivery, ok))
                if mode == "hold":
                    outer.held.set()
                    outer.release.wait(30)
                    return
                status = 200 if mode == "accept" and ok else 503
                if status == 200:
                    outer.accepted.setdefault(delivery, json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), WORKBENCH_WEBHOOK_LEASE_S="2", WORKBENCH_SEED_EXAMPLES="0")


def _start_mover() -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", MOVER], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until the commit (bounded: the process exits on error)
    assert line.strip() == "committed", proc.stderr.read()
    return proc


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def _deliver_in_new_process() -> dict:
    out = subprocess.run([sys.executable, "-m", "lib", "webhooks", "deliver", "--wait", "30", "--json"], cwd=ROOT,
                         env=_env(), capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _setup(engine, rx_url: str | None = None) -> tuple[str, int]:
    with session_scope(engine) as s:
        create_prompt(actor=ADMIN, session=s, name="support", messages=[{"role": "user", "content": "hi"}])
    with session_scope(engine) as s:
        secret, hook = add_webhook(session=s, actor=cli_operator(), url=rx_url or "http://127.0.0.1:9/none",
                                   events=["label.moved"])
    return secret, hook["id"]


def _outbox(engine) -> list[WebhookOutbox]:
    with Session(engine) as s:
        return list(s.exec(select(WebhookOutbox)))


def _wait(cond, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_killed_before_delivery_then_resumed_delivers_exactly_once(engine):
    rx = Receiver("")
    try:
        secret, hook_id = _setup(engine, rx.url)
        rx.secret = secret
        mover = _start_mover()  # the receiver refuses for now (down for maintenance): nothing is delivered
        (row,) = _outbox(engine)  # the event was committed with the label move
        assert row.state == "pending" and row.event == "label.moved"
        _kill(mover)
        assert not rx.accepted and _outbox(engine)[0].state == "pending"
        rx.mode = "accept"
        summary = _deliver_in_new_process()
        assert summary["drained"] and summary["delivered"] == 1 and summary["pending"] == 0
        assert list(rx.accepted) == [row.event_id]  # exactly one accepted delivery, signed
        accepted = [g for g in rx.got if g[0] == "accept"]
        assert accepted == [("accept", row.event_id, True)] and all(ok for _, _, ok in rx.got)
        event = rx.accepted[row.event_id]
        assert event["id"] == row.event_id and event["data"]["label"] == "staging"
        assert event["data"]["prompt"] == "support" and event["data"]["to_version"] == 1
        with session_scope(engine) as s:
            log = deliveries(session=s, webhook_id=hook_id)
        assert log[0]["ok"] and log[0]["status_code"] == 200  # refused tries (if any) are logged too
        assert all(not d["ok"] and d["status_code"] == 503 for d in log[1:])
    finally:
        rx.close()


def test_killed_mid_delivery_is_sent_again_with_the_same_delivery_id(sqlite_engine):
    rx = Receiver("")
    rx.mode = "hold"
    try:
        secret, _ = _setup(sqlite_engine, rx.url)
        rx.secret = secret
        mover = _start_mover()
        assert rx.held.wait(20)  # the mover's POST reached the receiver, which has not answered
        _kill(mover)
        rx.mode = "accept"
        summary = _deliver_in_new_process()  # waits for the dead process's lease (2 s) to run out
        assert summary["delivered"] == 1 and summary["pending"] == 0
        (row,) = _outbox(sqlite_engine)
        assert [g[1] for g in rx.got] == [row.event_id, row.event_id] and all(ok for _, _, ok in rx.got)
        assert list(rx.accepted) == [row.event_id]  # the receiver keeps one, by its delivery id
        assert row.state == "delivered" and row.attempts == 2
    finally:
        rx.close()
