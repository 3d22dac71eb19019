"""The OpenAI-compatible gateway's work: resolve `model`, call the one executor, shape OpenAI answers.

`model` is `endpoint/model`, or `prompt:NAME@LABEL` / `prompt:NAME:VERSION`: then the version is
rendered here from the request's `variables` and called with its model and params, the request's
own sampling params written over them. Every call goes through `lib.client` (limits, retries,
cache, pricing) and is one Run with source `gateway` and the token's identity.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from lib.client import ModelClient, get_client, list_endpoints, split_model_ref
from lib.identity import Identity
from lib.models import PromptVersion
from lib.prompts import list_prompts, resolve, summaries

from .errors import ApiError, error_body

# request fields that are not sampling parameters of the call
RESERVED = frozenset({"model", "messages", "prompt", "stream", "stream_options", "variables", "n", "user",
                      "metadata", "store", "input", "encoding_format", "dimensions"})
PROMPT_PREFIX = "prompt:"
MAX_LIST = 500


def server_client(engine: Engine) -> ModelClient:
    """The process's model client, running calls on this server's loop (called from it): no hop to the client's
    own thread and back per call, which cost more than the rest of the gateway at 1,000 calls/s."""
    client = get_client(engine)
    client.adopt_loop()
    return client


def call_params(body: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling parameters (everything that is not the model, the input or streaming)."""
    if body.get("n") not in (None, 1):
        raise ApiError(400, "n: only n=1 is supported", param="n")
    return {k: v for k, v in body.items() if k not in RESERVED and v is not None}


def resolve_version(session: Session, model: str) -> PromptVersion | None:
    """The prompt version named by `prompt:NAME@LABEL` / `prompt:NAME:VERSION`, or None for endpoint/model."""
    if not model.startswith(PROMPT_PREFIX):
        split_model_ref(model)  # a ValidationError names the expected shape
        return None
    ref = model[len(PROMPT_PREFIX):]
    if not ref:
        raise ApiError(400, "model: expected prompt:NAME@LABEL or prompt:NAME:VERSION", param="model")
    return resolve(session=session, ref=ref)


def call_kwargs(*, engine: Engine, actor: Identity, body: dict[str, Any], mode: str = "chat") -> dict[str, Any]:
    """Keyword arguments for `ModelClient.generate/stream` from a chat or completions request body."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model: required, e.g. echo/echo or prompt:NAME@LABEL", param="model")
    params = call_params(body)
    if mode == "completion":
        params["mode"] = "completion"
    kw: dict[str, Any] = {"source": "gateway", "actor": actor, "params": params}
    version = None
    if model.strip().startswith(PROMPT_PREFIX):
        with Session(engine) as s:
            version = resolve_version(s, model.strip())
    else:
        split_model_ref(model.strip())  # a ValidationError names the expected shape (no session: the hot path)
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise ApiError(400, "variables: expected an object of name -> value", param="variables")
    if version is not None:
        if mode == "completion":
            raise ApiError(400, "model: prompt: models are served on /v1/chat/completions", param="model")
        if body.get("messages"):
            raise ApiError(400, "messages: leave it empty with a prompt: model; the version's messages are "
                                "rendered from `variables`", param="messages")
        kw.update(version=version, variables=variables)
    else:
        kw.update(model=model.strip(), messages=input_messages(body, mode), variables=variables or None)
    return kw


def input_messages(body: dict[str, Any], mode: str) -> list[dict]:
    """The messages of a chat request, or a completions prompt as one user message."""
    if mode == "completion":
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt: expected one string", param="prompt")
        return [{"role": "user", "content": prompt}]
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: required, a non-empty list of {role, content}", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ApiError(400, f"messages.{i}: expected an object with role and content", param=f"messages.{i}")
    return messages


def _usage(result: Any) -> dict[str, int] | None:
    pt, ct = result.prompt_tokens, result.completion_tokens
    if pt is None and ct is None:
        return None
    return {"prompt_tokens": pt or 0, "completion_tokens": ct or 0, "total_tokens": (pt or 0) + (ct or 0)}


def failure(result: Any) -> ApiError:
    """The HTTP error for a call that failed upstream (the client's own token is never the cause: 502)."""
    status = result.http_status if result.http_status in (400, 404, 422, 429) else 502
    headers = {"Retry-After": "1"} if status == 429 else None
    return ApiError(status, result.error_message or f"upstream {result.error_kind}", type_="upstream_error",
                    headers=headers, extra={"workbench_run_id": result.run_id})


def completion_id(result: Any, prefix: str) -> str:
    """`chatcmpl-run<ID>` when the call was recorded, else a random id."""
    return f"{prefix}-run{result.run_id}" if result.run_id else f"{prefix}-{uuid.uuid4().hex[:24]}"


def chat_response(model: str, result: Any) -> dict[str, Any]:
    """A `chat.completion` object for a finished call."""
    message: dict[str, Any] = {"role": "assistant", "content": result.text}
    calls = getattr(result, "tool_calls", None)
    if calls:
        message["tool_calls"] = calls
        message["content"] = result.text or None
    return {"id": completion_id(result, "chatcmpl"), "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                         "finish_reason": result.finish_reason or ("tool_calls" if calls else "stop")}],
            "usage": _usage(result), "workbench_run_id": result.run_id}


def text_completion_response(model: str, result: Any) -> dict[str, Any]:
    """A `text_completion` object for a finished call."""
    return {"id": completion_id(result, "cmpl"), "object": "text_completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "text": result.text, "logprobs": None,
                                         "finish_reason": result.finish_reason or "stop"}],
            "usage": _usage(result), "workbench_run_id": result.run_id}


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def open_stream(client: Any, kw: dict[str, Any]) -> tuple[Any, Any]:
    """Start a stream and wait for its first event, so bad input fails before any byte is sent."""
    agen = client.stream(**kw)
    first = await agen.__anext__()
    return agen, first


async def sse_chunks(model: str, agen: Any, first: Any, *, chat: bool = True) -> AsyncIterator[bytes]:
    """OpenAI SSE chunks: the role, each text delta, the finish reason, a final usage chunk, `[DONE]`."""
    cid, created = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}", int(time.time())
    obj = "chat.completion.chunk" if chat else "text_completion"

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None,
              choices: bool = True) -> bytes:
        body: dict[str, Any] = {"id": cid, "object": obj, "created": created, "model": model}
        if choices:
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
            if chat:
                choice["delta"] = delta or {}
            else:
                choice["text"] = (delta or {}).get("content", "")
            body["choices"] = [choice]
        else:
            body["choices"] = []
        if usage is not None:
            body["usage"] = usage
        return _sse(body)

    if chat:
        yield chunk({"role": "assistant", "content": ""})
    ev = first
    try:
        while True:
            if ev.type == "delta" and ev.text:
                yield chunk({"content": ev.text})
            elif ev.type == "done":
                result = ev.result
                if result is None or result.status != "ok":
                    err = failure(result) if result is not None else ApiError(502, "the stream ended early")
                    yield _sse(error_body(err.type, err.message, err.param, **err.extra))
                    return
                calls = getattr(result, "tool_calls", None) if chat else None
                if calls:  # the executor hands tool calls over whole, at the end: one delta carries them
                    yield chunk({"tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]})
                yield chunk({}, finish=result.finish_reason or ("tool_calls" if calls else "stop"))
                yield chunk(None, usage=_usage(result) or {"prompt_tokens": 0, "completion_tokens": 0,
                                                          "total_tokens": 0}, choices=False)
                break
            ev = await agen.__anext__()
    except StopAsyncIteration:
        yield _sse(error_body("upstream_error", "the stream ended before its last event"))
        return
    finally:
        await agen.aclose()
    yield b"data: [DONE]\n\n"


def list_models(*, session: Session) -> dict[str, Any]:
    """Every `endpoint/model` the workbench knows and every `prompt:NAME@LABEL`, as an OpenAI model list."""
    now = int(time.time())
    data: list[dict[str, Any]] = []
    for ep in list_endpoints(session=session):
        for m in ep.models or []:
            data.append({"id": f"{ep.name}/{m}", "object": "model", "created": now, "owned_by": ep.name})
    if not any(d["id"] == "echo/echo" for d in data):
        data.insert(0, {"id": "echo/echo", "object": "model", "created": now, "owned_by": "echo"})
    prompts, _ = list_prompts(session=session, sort="name", page=1, page_size=MAX_LIST)
    info = summaries(session=session, prompt_ids=[p.id for p in prompts])
    for p in prompts:
        for label in sorted(info.get(p.id, {}).get("labels", {})):
            data.append({"id": f"{PROMPT_PREFIX}{p.name}@{label}", "object": "model", "created": now,
                         "owned_by": "workbench"})
    return {"object": "list", "data": data}


async def embeddings(*, engine: Engine, actor: Identity, body: dict[str, Any]) -> dict[str, Any]:
    """Vectors from `endpoint/model`'s embeddings API, through the executor (one Run, source gateway)."""
    model = body.get("model")
    if not isinstance(model, str) or not model or model.startswith(PROMPT_PREFIX):
        raise ApiError(400, "model: expected endpoint/model, e.g. echo/echo", param="model")
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "input: expected a string or a non-empty list of strings", param="input")
    if len(texts) > 2048:
        raise ApiError(400, "input: at most 2048 texts per request", param="input")
    vectors, result = await server_client(engine).embed_call(model=model, inputs=texts, source="gateway",
                                                          actor=actor)
    tokens = result.prompt_tokens
    return {"object": "list", "model": model, "workbench_run_id": result.run_id,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
