"""`/api/v1/...`: prompts by label or version (ETag, 304), render, new versions, label moves, runs, metrics.

Each route reads its input, calls one lib function and shapes the answer; the caller-owns-the-
transaction rule holds: lib functions flush, the route's session scope commits.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from lib.db import session_scope
from lib.errors import ValidationError
from lib.identity import READ, Identity
from lib.metrics import parse_since
from lib.metrics import summary as metrics_summary
from lib.runs import get_run, list_runs, run_to_dict

from .auth import engine_of, known_query_only, needs
from .prompt_payloads import (
    create_version,
    etag_matches,
    list_payload,
    move_label,
    render_payload,
)
from .schemas import ERROR_RESPONSES, LabelRequest, PromptList, RenderRequest, RunList, VersionRequest

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)])  # type: ignore[arg-type]
NamePath = Annotated[str, Path(min_length=1, max_length=200)]
LabelQuery = Annotated[str | None, Query(max_length=100)]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
SINCE_PATTERN = r"^([0-9]{1,5}[mhdw]|(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8]))$"


@router.get("/prompts", response_model=PromptList, tags=["prompts"])
def prompts_list(request: Request, _actor: Identity = Depends(needs(READ)),
                 search: Annotated[str | None, Query(max_length=200)] = None,
                 tag: Annotated[str | None, Query(max_length=100)] = None,
                 sort: Annotated[str, Query(pattern="^(updated|name|created)$")] = "updated",
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                 page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Prompts matching a search and tag, sorted, one page at a time."""
    with session_scope(engine_of(request)) as s:
        return list_payload(session=s, search=search, tag=tag, sort=sort, page=page, page_size=page_size)


@router.get("/prompts/{name}", tags=["prompts"],
            responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}})
async def prompt_get(request: Request, response: Response, name: NamePath, label: LabelQuery = None,
                     version: VersionQuery = None, if_none_match: Annotated[str | None, Header()] = None,
                     _actor: Identity = Depends(needs(READ))) -> Any:
    """A prompt at `?label=` or `?version=` (default: latest), with its ETag; 304 when it has not changed."""
    payload, etag = await request.app.state.payload_cache.fetch(engine_of(request), name, label, version)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return payload


@router.post("/prompts/{name}/render", tags=["prompts"])
def prompt_render(request: Request, name: NamePath, body: RenderRequest,
                  _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """The version's messages rendered with `variables`; 422 names every missing variable."""
    with session_scope(engine_of(request)) as s:
        return render_payload(session=s, name=name, variables=body.variables, label=body.label,
                              version=body.version)


@router.post("/prompts/{name}/versions", status_code=201, tags=["prompts"])
def prompt_create_version(request: Request, response: Response, name: NamePath, body: VersionRequest,
                          actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """Save a new version (write scope); identical content answers 200 with the existing version."""
    with session_scope(engine_of(request)) as s:
        payload, created = create_version(
            session=s, actor=actor, name=name, messages=[m.model_dump(exclude_none=True) for m in body.messages],
            template_format=body.template_format, model=body.model, params=body.params,
            commit_message=body.commit_message, description=body.description, tags=body.tags)
    request.app.state.payload_cache.forget(name)
    if not created:
        response.status_code = 200
    return payload


@router.put("/prompts/{name}/labels/{label}", tags=["prompts"])
def prompt_move_label(request: Request, name: NamePath, label: Annotated[str, Path(min_length=1, max_length=100)],
                      body: LabelRequest, actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """Point a label at a version (write scope; the team's protected labels, `production` by default, need an admin)."""
    with session_scope(engine_of(request)) as s:
        out = move_label(session=s, actor=actor, name=name, label=label, version=body.version)
    request.app.state.payload_cache.forget(name)
    return out


@router.get("/runs", response_model=RunList, tags=["runs"])
def runs_list(request: Request, _actor: Identity = Depends(needs(READ)),
              source: Annotated[str | None, Query(max_length=20)] = None,
              status: Annotated[str | None, Query(max_length=20)] = None,
              prompt: Annotated[str | None, Query(max_length=200)] = None,
              model: Annotated[str | None, Query(max_length=200)] = None,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1,
              page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Runs, newest first, filtered by source, status, prompt and model (no messages: see /runs/{id})."""
    with session_scope(engine_of(request)) as s:
        rows, total = list_runs(session=s, source=source, status=status, prompt_name=prompt, model=model,
                                page=page, page_size=page_size)
        return {"data": [run_to_dict(r, full=False) for r in rows], "total": total, "page": page,
                "page_size": page_size}


@router.get("/runs/{run_id}", tags=["runs"])
def run_get(request: Request, run_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
            _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """One run with its messages, output, tokens, cost and timings."""
    with session_scope(engine_of(request)) as s:
        return run_to_dict(get_run(session=s, run_id=run_id))


@router.get("/metrics/summary", tags=["metrics"])
def metrics(request: Request, since: Annotated[str, Query(pattern=SINCE_PATTERN)] = "24h",
            _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """Calls, spend, errors and latency since `since` (30m, 24h, 7d, 2w or a date YYYY-MM-DD), overall and per model."""
    try:
        start = parse_since(since)
    except ValueError:
        raise ValidationError(f"since {since!r}: expected 30m, 24h, 7d, 2w or a date YYYY-MM-DD") from None
    data = metrics_summary(engine_of(request), start)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
