"""The gateway's plain-ASGI hot path hands what it does not answer to FastAPI unchanged (body included),
and answers what it does answer as the FastAPI route would: same errors, same Run row."""

from __future__ import annotations

import json

import httpx
from sqlmodel import Session, select

from lib.models import Run

CHAT = "/v1/chat/completions"
BODY = {"model": "echo/echo", "messages": [{"role": "user", "content": "hi"}]}


def _post(api, token: str | None, body: object, *, path: str = CHAT, content_type: str = "application/json",
          raw: bytes | None = None) -> httpx.Response:
    headers = {"content-type": content_type}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{api.url}{path}", content=data, headers=headers, timeout=20)


def _runs(engine) -> list[Run]:
    with Session(engine) as s:
        return list(s.exec(select(Run).order_by(Run.id)))


def test_invalid_bodies_reach_fastapi_with_their_body(api, tokens):
    # the hot path reads the body, finds it invalid and hands it on: FastAPI's 422 names the field
    r = _post(api, tokens["run"], {"model": 5, "messages": []})
    assert r.status_code == 422 and r.json()["error"]["param"] == "model"
    r = _post(api, tokens["run"], {"model": "echo/echo", "messages": [], "stream": "yes"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "stream"
    r = _post(api, tokens["run"], None, raw=b'{"model": "echo/echo", "messages": [')
    assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_request_error"
    r = _post(api, tokens["run"], BODY, path=CHAT + "?lable=x")  # query parameters: FastAPI's route
    assert r.status_code == 400 and r.json()["error"]["param"] == "lable"
    assert _runs(api.engine) == []


def test_answers_match_the_route(api, tokens):
    r = _post(api, tokens["run"], BODY)
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    (run,) = _runs(api.engine)
    assert r.json()["id"] == f"chatcmpl-run{run.id}" and run.actor == "token:run-bot" and run.status == "ok"
    bad = _post(api, "wb_not-a-token", BODY)
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    assert bad.json()["error"]["type"] == "authentication_error"
    read = _post(api, tokens["read"], BODY)
    assert read.status_code == 403 and read.json()["error"]["type"] == "permission_error"
    unknown = _post(api, tokens["run"], {"model": "nope/m", "messages": BODY["messages"]})
    assert 400 <= unknown.status_code < 500 and "nope" in unknown.json()["error"]["message"]
    assert len(_runs(api.engine)) == 1
    # the same body sent as text/plain goes to FastAPI, which answers it too (no 5xx either way)
    plain = _post(api, tokens["run"], BODY, content_type="text/plain")
    assert plain.status_code < 500
