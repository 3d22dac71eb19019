"""`/api/tasks/...`, `/api/services/`, `/api/monitoring/metrics/`: the seed orchestrator's task API.

Its documented client code runs unchanged against the workbench, with a workbench token as its
`api_key` (Bearer). Executing a task needs the `run` scope; reading tasks, services and metrics `read`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from lib.identity import READ, RUN, Identity

from .auth import engine_of, known_query_only, needs
from .gateway_calls import open_stream, server_client
from .schemas import ERROR_RESPONSES, TaskRequest
from .tasks import execute, execute_stream, get_task, history, monitoring, services, task_call

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)])  # type: ignore[arg-type]



async def _ndjson(events: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    async for ev in events:
        yield (json.dumps(ev, ensure_ascii=False) + "\n").encode()


@router.post("/tasks/execute/", tags=["tasks"], responses={200: {"content": {
    "application/json": {}, "application/x-ndjson": {"schema": {"type": "string"}}},
    "description": "The task's result, or NDJSON events with stream: true"}})
async def tasks_execute(request: Request, body: TaskRequest, actor: Identity = Depends(needs(RUN))) -> Any:
    """Run a task: `{task_id, service_used, result, execution_time}`, or NDJSON events with `stream: true`."""
    engine = engine_of(request)
    kw = task_call(engine=engine, actor=actor, prompt=body.prompt, task_type=body.task_type, files=body.files,
                   service=body.service, max_tokens=body.max_tokens, temperature=body.temperature)
    if body.stream:
        agen, first = await open_stream(server_client(engine), kw)
        return StreamingResponse(_ndjson(execute_stream(engine=engine, kw=kw, agen=agen, first=first)),
                                 media_type="application/x-ndjson")
    return await execute(engine=engine, kw=kw)


@router.get("/tasks/history/", tags=["tasks"])
def tasks_history(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 20,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                  _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """Tasks, newest first: `{tasks, total}`."""
    with Session(engine_of(request)) as s:
        return history(session=s, limit=limit, offset=offset)


@router.get("/tasks/{task_id}/", tags=["tasks"])
def tasks_get(request: Request, task_id: Annotated[str, Path(max_length=30)],
              _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """One task with its prompt, result, status and timings."""
    with Session(engine_of(request)) as s:
        return get_task(session=s, task_id=task_id)


@router.get("/services/", tags=["tasks"])
def services_list(request: Request, _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """The endpoints tasks can use: `{services: [{name, healthy, models, ...}], total}`."""
    with Session(engine_of(request)) as s:
        return services(session=s)


@router.get("/monitoring/metrics/", tags=["tasks"])
def monitoring_metrics(request: Request, _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """Services, tasks (running, completed, failed), task latency and system load."""
    with Session(engine_of(request)) as s:
        return monitoring(session=s)
