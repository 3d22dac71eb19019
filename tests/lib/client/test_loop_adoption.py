"""A server's loop adopted by the model client: calls made on it run there (no hop between threads),
sync callers elsewhere are served on it, and once it stops the client runs a loop of its own again."""

from __future__ import annotations

import asyncio
import threading

from sqlmodel import Session, select

from lib.client.model_client import ModelClient
from lib.models import Run
from tests.actors import ADMIN

MSG = [{"role": "user", "content": "hello"}]


def _statuses(engine) -> list[str]:
    with Session(engine) as s:
        return [r.status for r in s.exec(select(Run).order_by(Run.id))]


def _in_thread(fn) -> object:
    """Run `fn` in a fresh thread (as a web server's loop thread would be) and return its value."""
    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join(60)
    assert not t.is_alive()
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out.get("value")


def test_adopted_loop_runs_calls_and_serves_sync_callers(engine):
    client = ModelClient(engine)
    try:
        async def server() -> tuple[bool, bool, str, str]:
            adopted = client.adopt_loop()
            on_this_loop = client.loop is asyncio.get_running_loop()
            r = await client.generate(actor=ADMIN, model="echo/echo", messages=MSG, source="gateway")
            # a sync caller in another thread (a page, the CLI) hands its call to this loop
            s = await asyncio.to_thread(client.generate_sync, actor=ADMIN, model="echo/echo", messages=MSG)
            return adopted, on_this_loop, r.status, s.status

        adopted, on_this_loop, first, second = _in_thread(lambda: asyncio.run(server()))
        assert adopted and on_this_loop and first == second == "ok"
        # the adopted loop has stopped: the client starts its own and keeps working
        after = client.generate_sync(actor=ADMIN, model="echo/echo", messages=MSG)
        assert after.status == "ok" and client.loop.is_running()
        assert _statuses(engine) == ["ok", "ok", "ok"]
    finally:
        client.close()


def test_a_client_with_its_own_loop_is_not_taken_over(engine):
    client = ModelClient(engine)
    try:
        own = client.loop  # started by a sync caller first

        async def server() -> tuple[bool, str]:
            adopted = client.adopt_loop()
            r = await client.generate(actor=ADMIN, model="echo/echo", messages=MSG)  # hops to the client's loop
            return adopted, r.status

        adopted, status = _in_thread(lambda: asyncio.run(server()))
        assert not adopted and status == "ok" and client.loop is own and own.is_running()
        assert _statuses(engine) == ["ok"]
    finally:
        client.close()
