"""OpenAI Files + Batches and Anthropic Message Batches routes for the fake server (tests/fakeserver.py),
plugged into its route table.

    install(server)                       # POST /v1/files, POST /v1/batches on this server
    server.batch_polls_before_done = 1    # GETs answered "in_progress" before "completed"
    server.batch_fail_ids = {"item-3"}    # these custom_ids go to the error file
    server.batch_line_faults = [Fault(tool_calls=[...])]  # OpenAI result lines answer these, in line order
    server.batch_create_hold_s = 30       # the batch exists, its creation is answered 30 s later
    server.batches                        # every batch created: GET /v1/batches lists them

The server's table matches exact paths, so each created file and batch adds its own
GET routes (/v1/files/{id}/content, /v1/batches/{id}).  Answers are computed like the chat
route's (`answer_text`), so a batch result equals a live result for the same messages.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from aiohttp import web

from tests.fakefaults import Fault, answer_text, openai_tool_calls
from tests.fakeserver import FakeServer

_ids = itertools.count(1)


def _multipart(headers: dict[str, str], raw: bytes) -> dict[str, bytes]:
    ctype = next(v for k, v in headers.items() if k.lower() == "content-type")
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in msg.iter_parts()}


def _content_route(content: bytes):
    async def handler(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
        if server.content_failures > 0:  # a download that fails (HTTP 500) this many more times
            server.content_failures -= 1
            return web.json_response({"error": {"message": "download failed"}}, status=500)
        return web.Response(body=content, content_type="application/jsonl")
    return handler


async def upload_file(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    """POST /v1/files (multipart: purpose, file)."""
    parts = _multipart(dict(request.headers), await request.read())
    fid = f"file-{next(_ids)}"
    server.files[fid] = parts["file"]
    server.add_route("GET", f"/v1/files/{fid}/content", _content_route(parts["file"]))
    return web.json_response({"id": fid, "object": "file", "bytes": len(parts["file"]),
                              "purpose": (parts.get("purpose") or b"").decode(), "filename": "input.jsonl"})


def _result_line(server: FakeServer, req: dict) -> tuple[bool, dict]:
    cid = req["custom_id"]
    if cid in server.batch_fail_ids:
        return False, {"id": f"r-{cid}", "custom_id": cid, "response": None,
                       "error": {"code": "invalid_request", "message": f"fake failure for {cid}"}}
    fault = server.batch_line_faults.pop(0) if server.batch_line_faults else Fault()
    text = answer_text(req["body"], fault)
    message: dict[str, Any] = {"role": "assistant", "content": text or None}  # as the chat route answers
    if fault.tool_calls:
        message["tool_calls"] = openai_tool_calls(fault)
    completion = {"id": f"chatcmpl-{cid}", "object": "chat.completion", "model": req["body"].get("model"),
                  "choices": [{"index": 0, "message": message,
                               "finish_reason": "tool_calls" if fault.tool_calls else "stop"}],
                  "usage": {"prompt_tokens": 11, "completion_tokens": max(1, len(text.split())),
                            "total_tokens": 11 + max(1, len(text.split()))}}
    return True, {"id": f"r-{cid}", "custom_id": cid, "error": None,
                  "response": {"status_code": 200, "request_id": f"req-{cid}", "body": completion}}


async def create_batch(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    """POST /v1/batches: runs the input file at once; GETs report in_progress, then completed."""
    raw = server.files[body["input_file_id"]]
    ok_lines, err_lines = [], []
    for line in raw.decode().splitlines():
        if line.strip():
            ok, out = _result_line(server, json.loads(line))
            (ok_lines if ok else err_lines).append(json.dumps(out))
    bid = f"batch_{next(_ids)}"
    out_id, err_id = f"file-{next(_ids)}", f"file-{next(_ids)}" if err_lines else None
    server.add_route("GET", f"/v1/files/{out_id}/content", _content_route("\n".join(ok_lines).encode()))
    if err_id:
        server.add_route("GET", f"/v1/files/{err_id}/content", _content_route("\n".join(err_lines).encode()))
    info = {"id": bid, "object": "batch", "endpoint": body["endpoint"], "input_file_id": body["input_file_id"],
            "completion_window": body.get("completion_window"), "status": "validating",
            "request_counts": {"total": len(ok_lines) + len(err_lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata")}
    polls = {"n": 0}

    async def get_batch(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
        polls["n"] += 1
        if server.batch_final_status != "completed" and polls["n"] > server.batch_polls_before_done:
            return web.json_response({**info, "status": server.batch_final_status})
        if polls["n"] <= server.batch_polls_before_done:
            return web.json_response({**info, "status": "in_progress"})
        return web.json_response({**info, "status": "completed", "output_file_id": out_id, "error_file_id": err_id,
                                  "request_counts": {"total": len(ok_lines) + len(err_lines),
                                                     "completed": len(ok_lines), "failed": len(err_lines)}})

    server.add_route("GET", f"/v1/batches/{bid}", get_batch)
    server.batches.insert(0, info)  # billed from here on, whether or not the client hears the answer
    if server.batch_create_hold_s:
        await asyncio.sleep(server.batch_create_hold_s)
    return web.json_response(info)


async def list_batches(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
    """GET /v1/batches (newest first, `limit`), as OpenAI pages it."""
    limit = int(request.query.get("limit", "20"))
    data = server.batches[:limit]
    return web.json_response({"object": "list", "data": data, "has_more": len(server.batches) > limit,
                              "first_id": data[0]["id"] if data else None,
                              "last_id": data[-1]["id"] if data else None})


async def create_message_batch(server: FakeServer, request: web.Request, body: Any,
                               fault: Fault) -> web.StreamResponse:
    """POST /v1/messages/batches (Anthropic): answers at once; GETs say in_progress, then ended."""
    bid = f"msgbatch_{next(_ids)}"
    lines, counts = [], {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    for req in body["requests"]:
        cid = req["custom_id"]
        server.anthropic_batch_params.append(req["params"])
        if cid in server.batch_fail_ids:
            counts["errored"] += 1
            lines.append({"custom_id": cid, "result": {"type": "errored", "error": {
                "type": "error", "error": {"type": "invalid_request_error", "message": f"fake failure for {cid}"}}}})
            continue
        counts["succeeded"] += 1
        text = answer_text(req["params"], Fault())
        lines.append({"custom_id": cid, "result": {"type": "succeeded", "message": {
            "id": f"msg_{cid}", "type": "message", "role": "assistant", "model": req["params"].get("model"),
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": max(1, len(text.split()))}}}})
    info = {"id": bid, "type": "message_batch", "processing_status": "in_progress",
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "request_counts": {**counts, "processing": len(lines), "succeeded": 0, "errored": 0}}
    polls = {"n": 0}
    ended = {**info, "processing_status": "ended", "request_counts": counts,
             "results_url": f"{server.url}/v1/messages/batches/{bid}/results"}

    async def get_batch(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
        polls["n"] += 1
        if polls["n"] <= server.batch_polls_before_done:
            return web.json_response(info)
        return web.json_response(ended)

    async def results(server: FakeServer, request: web.Request, body: Any, fault: Fault) -> web.StreamResponse:
        return web.Response(body="\n".join(json.dumps(x) for x in lines).encode(), content_type="application/jsonl")

    server.add_route("GET", f"/v1/messages/batches/{bid}", get_batch)
    server.add_route("GET", f"/v1/messages/batches/{bid}/results", results)
    # listed as in progress until polled past batch_polls_before_done, like GET /v1/messages/batches/{id}
    server.message_batches.insert(0, lambda: info if polls["n"] < server.batch_polls_before_done else ended)
    if server.batch_create_hold_s:
        await asyncio.sleep(server.batch_create_hold_s)
    return web.json_response(info)


async def list_message_batches(server: FakeServer, request: web.Request, body: Any,
                               fault: Fault) -> web.StreamResponse:
    """GET /v1/messages/batches (Anthropic, newest first, `limit`)."""
    limit = int(request.query.get("limit", "20"))
    data = [view() for view in server.message_batches[:limit]]
    return web.json_response({"data": data, "has_more": len(server.message_batches) > limit,
                              "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None})


def install(server: FakeServer) -> FakeServer:
    """Add the Files and Batches routes (and their settings) to a running FakeServer."""
    server.files = {}
    server.batch_fail_ids = set()
    server.batch_line_faults = []
    server.batch_polls_before_done = 1
    server.batch_final_status = "completed"
    server.content_failures = 0
    server.add_route("POST", "/v1/files", upload_file)
    server.add_route("POST", "/v1/batches", create_batch)
    server.add_route("GET", "/v1/batches", list_batches)
    server.batches = []
    server.batch_create_hold_s = 0.0
    server.anthropic_batch_params = []
    server.add_route("POST", "/v1/messages/batches", create_message_batch)
    server.add_route("GET", "/v1/messages/batches", list_message_batches)
    server.message_batches = []
    return server
