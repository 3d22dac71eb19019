"""`/api/v1` through httpx over loopback: list, get by label/version with ETag and 304, render, versions,
label moves, runs and metrics, and the error shape for every refusal."""

from __future__ import annotations

import httpx
import pytest

from lib.client import get_client
from tests.actors import ADMIN
from tests.api.conftest import make_token, seed_support


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_get_by_label_and_version_with_etag(api_any, tokens):
    seed_support(api_any.engine)
    with httpx.Client(base_url=api_any.url, headers=_h(tokens["read"]), timeout=10) as c:
        r = c.get("/api/v1/prompts/support-reply", params={"label": "production"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["version"] == 1 and body["labels"] == ["production"] and body["model"] == "echo/echo"
        assert body["variables"] == ["customer_name", "message"] and body["template_format"] == "mustache"
        assert body["params"] == {"temperature": 0.2} and len(body["content_hash"]) == 64
        etag = r.headers["ETag"]
        r304 = c.get("/api/v1/prompts/support-reply", params={"label": "production"},
                     headers={"If-None-Match": etag})
        assert r304.status_code == 304 and r304.content == b"" and r304.headers["ETag"] == etag
        # a new version and a label move change what production serves, and so its ETag
        w = httpx.post(f"{api_any.url}/api/v1/prompts/support-reply/versions", headers=_h(tokens["write"]),
                       json={"messages": [{"role": "user", "content": "Hi {{customer_name}}: {{message}}"}],
                             "model": "echo/echo", "commit_message": "shorter"})
        assert w.status_code == 201, w.text
        assert w.json()["version"] == 2
        latest = c.get("/api/v1/prompts/support-reply").json()
        assert latest["version"] == 2
        assert c.get("/api/v1/prompts/support-reply", params={"version": 1}).json()["version"] == 1
        m = httpx.put(f"{api_any.url}/api/v1/prompts/support-reply/labels/staging", headers=_h(tokens["write"]),
                      json={"version": 2})
        assert m.status_code == 200 and m.json()["labels"] == ["staging"]
        r2 = c.get("/api/v1/prompts/support-reply", params={"label": "production"},
                   headers={"If-None-Match": etag})
        assert r2.status_code == 200 and r2.headers["ETag"] != etag  # all_labels changed


def test_list_search_tag_pagination(api, tokens):
    seed_support(api.engine)
    with httpx.Client(base_url=api.url, headers=_h(tokens["write"]), timeout=10) as c:
        for i in range(3):
            assert c.post(f"/api/v1/prompts/other-{i}/versions",
                          json={"messages": [{"role": "user", "content": "x"}], "tags": ["misc"]}).status_code == 201
        page = c.get("/api/v1/prompts", params={"sort": "name", "page_size": 2}).json()
        assert page["total"] == 4 and [p["name"] for p in page["data"]] == ["other-0", "other-1"]
        page2 = c.get("/api/v1/prompts", params={"sort": "name", "page_size": 2, "page": 2}).json()
        assert [p["name"] for p in page2["data"]] == ["other-2", "support-reply"]
        assert page2["data"][1]["labels"] == {"production": 1}
        assert c.get("/api/v1/prompts", params={"tag": "support"}).json()["total"] == 1
        assert c.get("/api/v1/prompts", params={"search": "other-1"}).json()["total"] == 1
        bad = c.get("/api/v1/prompts", params={"sort": "random"})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "sort"


def test_render_names_every_missing_variable(api, tokens):
    seed_support(api.engine)
    with httpx.Client(base_url=api.url, headers=_h(tokens["read"]), timeout=10) as c:
        ok = c.post("/api/v1/prompts/support-reply/render",
                    json={"label": "production", "variables": {"customer_name": "Ann", "message": "Hi"}})
        assert ok.status_code == 200
        assert ok.json()["messages"] == [{"role": "system", "content": "You help Ann."},
                                         {"role": "user", "content": "Hi"}]
        bad = c.post("/api/v1/prompts/support-reply/render", json={"variables": {}})
        assert bad.status_code == 422
        err = bad.json()["error"]
        assert err["type"] == "missing_variables" and err["missing"] == ["customer_name", "message"]
        assert "customer_name" in err["message"] and "message" in err["message"]


def test_refusals_have_the_error_shape(api, tokens):
    seed_support(api.engine)
    u = api.url
    r = httpx.get(f"{u}/api/v1/prompts/support-reply")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = httpx.get(f"{u}/api/v1/prompts/support-reply", headers=_h("wb_" + "x" * 43))
    assert r.status_code == 401
    r = httpx.get(f"{u}/api/v1/prompts/nope", headers=_h(tokens["read"]))
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = httpx.get(f"{u}/api/v1/prompts/support-reply", params={"label": "production", "version": 2},
                  headers=_h(tokens["read"]))
    assert r.status_code == 404 and "points at version 1, not 2" in r.json()["error"]["message"]
    r = httpx.get(f"{u}/api/v1/prompts/support-reply", params={"label": "production", "version": 1},
                  headers=_h(tokens["read"]))
    assert r.status_code == 200
    body = {"messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(f"{u}/api/v1/prompts/support-reply/versions", json=body, headers=_h(tokens["read"]))
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    r = httpx.put(f"{u}/api/v1/prompts/support-reply/labels/production", json={"version": 1},
                  headers=_h(tokens["write"]))
    assert r.status_code == 403 and "label.move_protected" in r.json()["error"]["message"]
    r = httpx.put(f"{u}/api/v1/prompts/support-reply/labels/staging", json={"version": 9},
                  headers=_h(tokens["write"]))
    assert r.status_code == 404
    r = httpx.post(f"{u}/api/v1/prompts/support-reply/versions", json={"messages": []}, headers=_h(tokens["write"]))
    assert r.status_code == 422 and r.json()["error"]["param"] == "messages"
    r = httpx.post(f"{u}/api/v1/prompts/support-reply/versions", content=b"{", headers=_h(tokens["write"]))
    assert r.status_code == 422 and "error" in r.json()


def test_rpm_limit_answers_429_with_retry_after(api):
    token = make_token(api.engine, "slow", "read", rpm=2)
    for _ in range(2):
        assert httpx.get(f"{api.url}/api/v1/prompts", headers=_h(token)).status_code == 200
    r = httpx.get(f"{api.url}/api/v1/prompts", headers=_h(token))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/metrics/summary"])
def test_runs_and_metrics_need_a_token(api, path):
    assert httpx.get(api.url + path).status_code == 401


def test_runs_list_get_and_metrics(api, tokens):
    res = get_client(api.engine).generate_sync(actor=ADMIN, model="echo/echo", messages=[{"role": "user",
                                               "content": "hi"}])
    with httpx.Client(base_url=api.url, headers=_h(tokens["read"]), timeout=10) as c:
        runs = c.get("/api/v1/runs", params={"model": "echo"}).json()
        assert runs["total"] == 1 and runs["data"][0]["id"] == res.run_id and "messages" not in runs["data"][0]
        one = c.get(f"/api/v1/runs/{res.run_id}").json()
        assert one["messages"] == [{"role": "user", "content": "hi"}]
        assert c.get("/api/v1/runs/999999").status_code == 404
        m = c.get("/api/v1/metrics/summary", params={"since": "1h"})
        assert m.status_code == 200, m.text
        assert m.json()["calls"] == 1
