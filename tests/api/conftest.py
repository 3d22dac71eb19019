"""A real HTTP server per test: the API app under uvicorn on a loopback port, plus tokens of each scope."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import pytest
import uvicorn

from lib.api import clear_token_cache, create_api, create_token
from lib.client.model_client import reset_clients
from lib.db import session_scope
from lib.identity import cli_operator
from lib.prompts import create_prompt, set_label
from tests.actors import ADMIN


@dataclass
class Server:
    """A running API server."""

    url: str
    engine: object
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(engine, port: int | None = None) -> Server:
    """Serve `create_api` for `engine` on 127.0.0.1 in a thread; returns once it accepts connections."""
    port = port or free_port()
    config = uvicorn.Config(create_api(lambda: engine), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    return Server(f"http://127.0.0.1:{port}", engine, server, thread)


@pytest.fixture
def api(sqlite_engine):
    """The API on SQLite, served over loopback."""
    clear_token_cache()
    srv = start_server(sqlite_engine)
    yield srv
    srv.stop()
    reset_clients()
    clear_token_cache()


@pytest.fixture
def api_any(engine):
    """The API on SQLite and on PostgreSQL."""
    clear_token_cache()
    srv = start_server(engine)
    yield srv
    srv.stop()
    reset_clients()
    clear_token_cache()


def make_token(engine, name: str, scope: str, rpm: int | None = None) -> str:
    """A fresh token of `scope`."""
    with session_scope(engine) as s:
        token, _ = create_token(session=s, actor=cli_operator(), name=name, scope=scope, rpm=rpm)
    return token


@pytest.fixture
def tokens(request):
    """Tokens named read/run/write on the test's API server database."""
    srv = request.getfixturevalue("api_any" if "api_any" in request.fixturenames else "api")
    return {scope: make_token(srv.engine, f"{scope}-bot", scope) for scope in ("read", "run", "write")}


def seed_support(engine) -> None:
    """`support-reply` v1 and v2, production -> v1."""
    msgs = [{"role": "system", "content": "You help {{customer_name}}."},
            {"role": "user", "content": "{{message}}"}]
    with session_scope(engine) as s:
        create_prompt(actor=ADMIN, session=s, name="support-reply", messages=msgs, model="echo/echo",
                      params={"temperature": 0.2}, tags=["support"], commit_message="v1")
        set_label(actor=ADMIN, session=s, name="support-reply", label="production", version=1)
