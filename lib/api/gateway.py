"""`/v1/...` and `/health`: the OpenAI-compatible gateway (chat, completions, embeddings, models).

Bearer workbench tokens with the `run` scope (`read` for the model list). Bodies are taken as JSON
objects with extra fields allowed (`variables` for prompt: models), like OpenAI's own API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.identity import READ, RUN, Identity

from .auth import engine_of, known_query_only, needs
from .gateway_calls import (
    call_kwargs,
    chat_response,
    embeddings,
    failure,
    list_models,
    open_stream,
    server_client,
    sse_chunks,
    text_completion_response,
)
from .schemas import ERROR_RESPONSES, ChatCompletionRequest, CompletionRequest, EmbeddingRequest

router = APIRouter(responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)])  # type: ignore[arg-type]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAMED = {200: {"content": {"application/json": {}, "text/event-stream": {"schema": {"type": "string"}}},
                  "description": "The completion, or server-sent chunks with stream: true"}}


@router.get("/health", tags=["gateway"])
def health(request: Request) -> dict[str, Any]:
    """Liveness and database reachability (no token needed)."""
    with Session(engine_of(request)) as s:
        s.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok", "database": "ok"}


@router.get("/v1/models", tags=["gateway"])
def models(request: Request, _actor: Identity = Depends(needs(READ))) -> dict[str, Any]:
    """Every `endpoint/model` and `prompt:NAME@LABEL` the workbench can serve."""
    with Session(engine_of(request)) as s:
        return list_models(session=s)


async def complete_call(engine: Engine, actor: Identity, body: dict[str, Any], mode: str) -> Response:
    """A chat (`mode="chat"`) or text completion, streamed or not, as the response to send."""
    kw = call_kwargs(engine=engine, actor=actor, body=body, mode=mode)
    client = server_client(engine)
    model = str(body["model"])
    if body.get("stream"):
        agen, first = await open_stream(client, kw)
        return StreamingResponse(sse_chunks(model, agen, first, chat=mode == "chat"),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    result = await client.generate(**kw)
    if not result.ok:
        raise failure(result)
    return JSONResponse(chat_response(model, result) if mode == "chat" else text_completion_response(model, result))


@router.post("/v1/chat/completions", tags=["gateway"], responses=STREAMED)
async def chat_completions(request: Request, body: ChatCompletionRequest,
                           actor: Identity = Depends(needs(RUN))) -> Any:
    """OpenAI chat completions, streamed (SSE with a final usage chunk) or not; every call is a Run."""
    return await complete_call(engine_of(request), actor, body.model_dump(exclude_unset=True), "chat")


@router.post("/v1/completions", tags=["gateway"], responses=STREAMED)
async def completions(request: Request, body: CompletionRequest, actor: Identity = Depends(needs(RUN))) -> Any:
    """OpenAI legacy completions (one prompt string)."""
    return await complete_call(engine_of(request), actor, body.model_dump(exclude_unset=True), "completion")


@router.post("/v1/embeddings", tags=["gateway"])
async def embeddings_route(request: Request, body: EmbeddingRequest,
                           actor: Identity = Depends(needs(RUN))) -> dict[str, Any]:
    """OpenAI embeddings from an endpoint's embeddings API."""
    return await embeddings(engine=engine_of(request), actor=actor, body=body.model_dump(exclude_unset=True))
