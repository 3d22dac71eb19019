"""The seed orchestrator's task API driven by an aiohttp client written from its documentation
(execute, stream, get, history paging, services, metrics), with a workbench token as its api_key."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from sqlmodel import Session, select

from lib.client import ensure_defaults
from lib.db import session_scope
from lib.models import Run
from tests.actors import ADMIN


class OrchestratorClient:
    """The documented client: Bearer api_key, JSON in and out, NDJSON when streaming."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    async def __aenter__(self):
        self.session = aiohttp.ClientSession(headers=self.headers, timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(self, *exc):
        await self.session.close()

    async def execute_task(self, prompt: str, task_type: str = "general", **kw) -> dict:
        async with self.session.post(f"{self.base_url}/api/tasks/execute/",
                                     json={"prompt": prompt, "task_type": task_type, **kw}) as r:
            return {"http_status": r.status, **(await r.json())}

    async def stream_task(self, prompt: str, task_type: str = "general", **kw) -> list[dict]:
        events = []
        async with self.session.post(f"{self.base_url}/api/tasks/execute/",
                                     json={"prompt": prompt, "task_type": task_type, "stream": True, **kw}) as r:
            assert r.status == 200, await r.text()
            async for line in r.content:
                if line.strip():
                    events.append(json.loads(line))
        return events

    async def get(self, path: str, **params) -> tuple[int, dict]:
        async with self.session.get(f"{self.base_url}{path}", params=params) as r:
            return r.status, await r.json()


def test_task_api_end_to_end(api, tokens):
    with session_scope(api.engine) as s:
        ensure_defaults(s, actor=ADMIN)

    async def go():
        async with OrchestratorClient(api.url, tokens["run"]) as c:
            done = await c.execute_task("Explain recursion", "question_answer", max_tokens=64)
            coded = await c.execute_task("Add numbers", "code_generation", service="echo",
                                         files={"src/add.py": "def add(a, b):\n    return a + b\n"})
            odd = await c.execute_task("Anything", "haiku_writing", temperature=0.9)
            events = await c.stream_task("stream this task", "summarization")
            status, task = await c.get(f"/api/tasks/{done['task_id']}/")
            page1 = await c.get("/api/tasks/history/", limit=2, offset=0)
            page2 = await c.get("/api/tasks/history/", limit=2, offset=2)
            services = await c.get("/api/services/")
            metrics = await c.get("/api/monitoring/metrics/")
            missing = await c.get("/api/tasks/999999/")
            empty = await c.execute_task("", "general")
            return done, coded, odd, events, (status, task), page1, page2, services, metrics, missing, empty

    done, coded, odd, events, (status, task), page1, page2, services, metrics, missing, empty = asyncio.run(go())
    assert done["http_status"] == 200 and done["status"] == "completed" and "Explain recursion" in done["result"]
    assert done["service_used"] == "echo/echo" and done["execution_time"] >= 0
    assert "src/add.py" in coded["result"] and "return a + b" in coded["result"]
    assert odd["http_status"] == 200  # unknown task type: the general preset
    assert [e["type"] for e in events][-1] == "done" and all(e["type"] == "content" for e in events[:-1])
    assert "stream this task" in "".join(e["data"] for e in events[:-1]) and events[-1]["task_id"]
    assert status == 200 and task["prompt"] == "Explain recursion" and task["status"] == "completed"
    assert task["task_type"] == "question_answer" and task["result"] == done["result"]
    assert page1[1]["total"] == 4 and len(page1[1]["tasks"]) == 2 and len(page2[1]["tasks"]) == 2
    assert {t["task_id"] for t in page1[1]["tasks"]}.isdisjoint(t["task_id"] for t in page2[1]["tasks"])
    assert services[1]["total"] >= 1 and services[1]["services"][0]["name"] == "echo"
    assert services[1]["services"][0]["healthy"] is True and "echo" in services[1]["services"][0]["models"]
    m = metrics[1]
    assert m["tasks"] == {"running": 0, "completed": 4, "failed": 0} and m["services"]["healthy"] >= 1
    assert m["latency"]["p50_ms"] is not None and set(m["system"]) == {"cpu_percent", "memory_percent"}
    assert missing[0] == 404 and "error" in missing[1]
    assert empty["http_status"] == 422 and empty["error"]["param"] == "prompt"
    with Session(api.engine) as s:
        runs = list(s.exec(select(Run).where(Run.source == "api")))
    assert len(runs) == 4 and {r.actor for r in runs} == {"token:run-bot"}
    system = next(m for m in runs[0].messages if m["role"] == "system")
    assert "accurately" in system["content"] and runs[0].params["max_tokens"] == 64


def test_read_token_cannot_execute(api, tokens):
    async def go():
        async with OrchestratorClient(api.url, tokens["read"]) as c:
            return await c.execute_task("x")

    out = asyncio.run(go())
    assert out["http_status"] == 403 and out["error"]["type"] == "permission_error"
