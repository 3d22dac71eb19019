"""A loopback fake model provider for the tests: OpenAI and Anthropic protocols, faults on demand.

    server = FakeServer().start()        # 127.0.0.1, free port, own thread and event loop
    server.url                           # "http://127.0.0.1:PORT" (add "/v1" for OpenAI clients)
    server.script(Fault(status=429, headers={"retry-after": "2"}), Fault())   # next requests, in order
    server.requests                      # [Recorded(t, method, path, headers, body)], every request
    server.rate_limit(rate=10, burst=20) # token bucket; 429 beyond it

Routes live in a table (`ROUTES`, or `server.routes` per instance) keyed by (METHOD, path);
add one with `@route("POST", "/v1/files")` or `server.add_route(...)`.  A handler is
`async def h(server, request, body, fault) -> web.StreamResponse`.  The fault script is
consumed by every request (a `Fault(path=...)` only matches that path); an empty script
means normal answers.

Use the `fake_server` pytest fixture (a fresh server per test).  `Fault` and `Recorded` live in
tests/fakefaults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.fakefaults import Fault, Recorded, answer_text, args_text, openai_tool_calls

Handler = Callable[["FakeServer", web.Request, Any, "Fault"], Awaitable[web.StreamResponse]]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a handler for every FakeServer (module-level route table)."""
    def deco(fn: Handler) -> Handler:
        ROUTES[(method.upper(), path)] = fn
        return fn
    return deco


class FakeServer:
    """The loopback server; start() returns self."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = dict(ROUTES)
        self.requests: list[Recorded] = []
        self._script: list[Fault] = []
        self._lock = threading.Lock()
        self._bucket: list[float] | None = None  # [tokens, stamp, rate, burst]
        self.rejected = 0
        self.models = ["gpt-4o-mini", "fake-model", "org/model-x"]
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- control ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *faults: Fault) -> FakeServer:
        """Queue faults for the next requests (in order)."""
        with self._lock:
            self._script.extend(faults)
        return self

    def rate_limit(self, rate: float, burst: int) -> None:
        """Allow `rate` requests/s with a burst of `burst`; answer 429 beyond."""
        self._bucket = [float(burst), time.monotonic(), float(rate), float(burst)]

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Add a route to this server only."""
        self.routes[(method.upper(), path)] = handler

    def barrier(self, n: int, path: str = "/v1/chat/completions", timeout_s: float = 20.0) -> None:
        """Hold every answer on `path` until `n` requests to it have arrived (then answer as usual); a
        request still waiting after `timeout_s` gets a 503.  Proves n requests were in flight at once,
        with no clock in the test's assertions."""
        inner = self.routes[("POST", path)]
        arrived = [0]

        async def held(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
            arrived[0] += 1
            end = time.monotonic() + timeout_s
            while arrived[0] < n:
                if time.monotonic() > end:
                    return web.json_response({"error": {"message": f"barrier: {arrived[0]} of {n} arrived"}},
                                             status=503)
                await asyncio.sleep(0.01)
            return await inner(server, request, body, fault)

        self.add_route("POST", path, held)

    def reset(self) -> None:
        """Forget requests, script and rate limit."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
        self._bucket = None
        self.rejected = 0

    def count(self, path: str | None = None) -> int:
        """Requests seen (for one path, or all)."""
        return sum(1 for r in self.requests if path is None or r.path == path)

    def gaps(self, path: str | None = None) -> list[float]:
        """Seconds between consecutive requests (for one path, or all)."""
        ts = [r.t for r in self.requests if path is None or r.path == path]
        return [b - a for a, b in itertools.pairwise(ts)]

    def _next_fault(self, path: str) -> Fault:
        with self._lock:
            for i, f in enumerate(self._script):
                if f.path is None or f.path == path:
                    return self._script.pop(i)
        return Fault()

    def _allow(self) -> bool:
        if self._bucket is None:
            return True
        tokens, stamp, rate, burst = self._bucket
        now = time.monotonic()
        tokens = min(burst, tokens + (now - stamp) * rate)
        ok = tokens >= 1.0
        self._bucket[0], self._bucket[1] = (tokens - 1.0 if ok else tokens), now
        if not ok:
            self.rejected += 1
        return ok

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeServer:
        """Start in a daemon thread on a free port."""
        ready = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._dispatch)
            self._runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
            self.loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        """Stop the server and its thread."""
        if self.loop is None:
            return
        async def shutdown() -> None:
            me = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not me]
            for t in pending:  # hanging handlers (hang_s, drip_s) would otherwise hold cleanup up
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._runner.cleanup()  # type: ignore[union-attr]

        fut = asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        with contextlib.suppress(Exception):  # shutting down a test server
            fut.result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread:
            self._thread.join(5)

    # -- dispatch ---------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        path = request.path
        self.requests.append(Recorded(time.monotonic(), request.method, path, dict(request.headers), body))
        if not self._allow():
            return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}}, status=429)
        fault = self._next_fault(path)
        if fault.hang_s:
            await asyncio.sleep(fault.hang_s)
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drip_s:
            resp = web.StreamResponse(status=200, headers={"content-type": "application/json"})
            await resp.prepare(request)
            end = time.monotonic() + fault.drip_s
            while time.monotonic() < end:
                await resp.write(b" ")
                await asyncio.sleep(0.2)
            await resp.write(b"{}")
            return resp
        if fault.status >= 400 or fault.body is not None:
            body_out = fault.body if fault.body is not None else json.dumps(
                {"error": {"message": f"fake error {fault.status}", "type": "fake"}})
            return web.Response(status=fault.status, body=body_out, headers={
                "content-type": "application/json", "x-request-id": f"req_{len(self.requests)}", **fault.headers})
        handler = self.routes.get((request.method, path))
        if handler is None:
            return web.json_response({"error": {"message": f"no route {request.method} {path}"}}, status=404)
        return await handler(self, request, body, fault)


# -- protocol helpers ---------------------------------------------------------------------------
def chunks_of(text: str) -> list[str]:
    """Text split into word-ish chunks, spaces kept (so ''.join(chunks) == text)."""
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch == " ":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


async def _sse(request: web.Request, fault: Fault) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"content-type": "text/event-stream",
                                                   "x-request-id": "req_stream", **fault.headers})
    await resp.prepare(request)
    return resp


async def _cut(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Drop the connection abruptly (a stream cut before its terminal event)."""
    if request.transport is not None:
        request.transport.close()
    return resp


@route("POST", "/v1/chat/completions")
async def chat_completions(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    text = answer_text(body, fault)
    model = (body or {}).get("model", "fake-model")
    usage: dict[str, Any] = {"prompt_tokens": 11, "completion_tokens": max(1, len(text.split())),
                             "total_tokens": 11 + max(1, len(text.split()))}
    if fault.reasoning_tokens is not None:
        usage["completion_tokens"] += fault.reasoning_tokens
        usage["completion_tokens_details"] = {"reasoning_tokens": fault.reasoning_tokens}
    finish = "tool_calls" if fault.tool_calls else "stop"
    if not (body or {}).get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if fault.tool_calls:
            message["tool_calls"] = openai_tool_calls(fault)
        if fault.reasoning:
            message["reasoning_content"] = fault.reasoning
        data = {"id": "chatcmpl-1", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
        if fault.usage:
            data["usage"] = usage
        return web.json_response(data, headers={"x-request-id": f"req_{len(server.requests)}", **fault.headers})
    resp = await _sse(request, fault)
    deltas: list[dict] = [{"reasoning_content": c} for c in chunks_of(fault.reasoning or "")]
    deltas += [{"content": c} for c in chunks_of(text)]
    for i, call in enumerate(openai_tool_calls(fault)):  # id and name first, then the arguments in pieces
        deltas.append({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                       "function": {"name": call["function"]["name"], "arguments": ""}}]})
        args = call["function"]["arguments"]
        deltas += [{"tool_calls": [{"index": i, "function": {"arguments": args[j:j + 7]}}]}
                   for j in range(0, len(args), 7)]
    for i, delta in enumerate(deltas):
        if fault.cut_after is not None and i >= fault.cut_after:
            return await _cut(request, resp)
        if fault.stall_after is not None and i == fault.stall_after:
            await asyncio.sleep(fault.stall_s)
        payload = {"id": "c1", "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        await resp.write(f"data: {json.dumps(payload)}\n\n".encode())
    if fault.cut_after is not None:
        return await _cut(request, resp)
    if fault.error_event:
        await resp.write(b'data: {"error": {"message": "overloaded mid-stream", "type": "server_error"}}\n\n')
        return resp
    final = {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    await resp.write(f"data: {json.dumps(final)}\n\n".encode())
    if fault.usage and ((body or {}).get("stream_options") or {}).get("include_usage"):
        await resp.write(f"data: {json.dumps({'id': 'c1', 'choices': [], 'usage': usage})}\n\n".encode())
    await resp.write(b"data: [DONE]\n\n")
    return resp


@route("POST", "/v1/completions")
async def completions(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    text = answer_text(body, fault)
    return web.json_response({"id": "cmpl-1", "object": "text_completion", "model": (body or {}).get("model"),
                              "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})


@route("GET", "/v1/models")
async def models(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    return web.json_response({"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})


@route("POST", "/v1/embeddings")
async def embeddings(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    inputs = (body or {}).get("input") or []
    inputs = [inputs] if isinstance(inputs, str) else inputs
    data = [{"object": "embedding", "index": i, "embedding": [float(len(s)), 1.0, 0.0]} for i, s in enumerate(inputs)]
    return web.json_response({"object": "list", "data": data, "model": (body or {}).get("model"),
                              "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}})


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def thinking_signature(thinking: str) -> str:
    """The signature the fake gives a thinking block (so it can check the block comes back unchanged)."""
    return "sig_" + hashlib.sha256(thinking.encode()).hexdigest()[:24]


def thinking_turn_problem(body: Any) -> str | None:
    """What the Messages API says when thinking is on and the assistant turn with the tool calls being answered
    does not start with its signed thinking block, passed back unchanged (None when the request is fine)."""
    if not isinstance(body, dict) or (body.get("thinking") or {}).get("type") != "enabled":
        return None
    msgs = body.get("messages") or []
    last = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i].get("role") == "assistant"), None)
    if last is None or not isinstance(msgs[last].get("content"), list):
        return None
    blocks = msgs[last]["content"]
    if not any(isinstance(b, dict) and b.get("type") == "tool_use" for b in blocks):
        return None
    first = blocks[0] if blocks else {}
    if first.get("type") == "redacted_thinking" and first.get("data"):
        return None
    if first.get("type") == "thinking" and first.get("signature") == thinking_signature(str(first.get("thinking"))):
        return None
    if first.get("type") == "thinking":
        return f"messages.{last}.content.0: Invalid `signature` in `thinking` block"
    return (f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must start with a "
            "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks).")


@route("POST", "/v1/messages")
async def anthropic_messages(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    problem = thinking_turn_problem(body)
    if problem:
        return web.json_response({"type": "error", "error": {"type": "invalid_request_error", "message": problem}},
                                 status=400)
    text = answer_text(body, fault)
    model = (body or {}).get("model", "claude-fake")
    out_tokens = max(1, len(text.split()))
    tool_uses = [{"type": "tool_use", "id": c.get("id", f"toolu_{i}"), "name": c["name"],
                  "input": json.loads(args_text(c))} for i, c in enumerate(fault.tool_calls or [])]
    stop_reason = "tool_use" if tool_uses else "end_turn"
    if not (body or {}).get("stream"):
        content = ([{"type": "thinking", "thinking": fault.reasoning, "signature": thinking_signature(fault.reasoning)}]
                   if fault.reasoning else [])
        content += ([{"type": "text", "text": text}] if text or not tool_uses else []) + tool_uses
        return web.json_response({"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                                  "content": content, "stop_reason": stop_reason,
                                  "usage": {"input_tokens": 12, "output_tokens": out_tokens}},
                                 headers={"request-id": f"req_{len(server.requests)}", **fault.headers})
    resp = await _sse(request, fault)
    await resp.write(_event("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "usage": {"input_tokens": 12, "output_tokens": 1}}}))
    events: list[tuple[str, dict]] = []
    idx = 0
    if fault.reasoning:
        events.append(("content_block_start", {"index": idx, "content_block": {"type": "thinking", "thinking": ""}}))
        events += [("content_block_delta", {"index": idx, "delta": {"type": "thinking_delta", "thinking": c}})
                   for c in chunks_of(fault.reasoning)]
        events.append(("content_block_delta", {"index": idx, "delta": {
            "type": "signature_delta", "signature": thinking_signature(fault.reasoning)}}))
        events.append(("content_block_stop", {"index": idx}))
        idx += 1
    events.append(("content_block_start", {"index": idx, "content_block": {"type": "text", "text": ""}}))
    events += [("content_block_delta", {"index": idx, "delta": {"type": "text_delta", "text": c}})
               for c in chunks_of(text)]
    for use in tool_uses:
        events.append(("content_block_stop", {"index": idx}))
        idx += 1
        events.append(("content_block_start", {"index": idx, "content_block": {**use, "input": {}}}))
        args = json.dumps(use["input"])
        events += [("content_block_delta", {"index": idx, "delta": {"type": "input_json_delta",
                                                                    "partial_json": args[j:j + 7]}})
                   for j in range(0, len(args), 7)]
    for i, (name, data) in enumerate(events):
        if fault.cut_after is not None and i >= fault.cut_after + 1:
            return await _cut(request, resp)
        await resp.write(_event(name, {"type": name, **data}))
    if fault.cut_after is not None:
        return await _cut(request, resp)
    if fault.error_event:
        await resp.write(_event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                      "message": "Overloaded"}}))
        return resp
    await resp.write(_event("content_block_stop", {"type": "content_block_stop", "index": idx}))
    await resp.write(_event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason},
                                              "usage": {"output_tokens": out_tokens}}))
    await resp.write(_event("message_stop", {"type": "message_stop"}))
    return resp


@pytest.fixture
def fake_server():
    """A fresh FakeServer for one test."""
    server = FakeServer().start()
    yield server
    server.stop()


def free_port() -> int:
    """A port nothing listens on (for connection-refused tests)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
