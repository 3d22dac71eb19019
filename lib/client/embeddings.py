"""Embedding vectors for the `similar-embed` evaluator and the gateway, from an endpoint's embeddings API.

Every embedding call goes through the model client's executor (the endpoint's limiter, the
retry policy, the deadline) and is recorded as one Run row built by `lib.runs.run_row`.
A caller's own stand-in (anything with an `embed` coroutine that is not a ModelClient) is used as is.
The echo endpoint gives a deterministic bag-of-letters vector so tests run offline.
"""

from __future__ import annotations

import inspect
from typing import Any

from .model_client import ModelClient, get_client


async def embed(model_ref: str, texts: list[str], *, client: Any = None, engine: Any = None,
                **call_kw: Any) -> list[list[float]]:
    """One vector per text from `endpoint/model` (a failed call raises its ProviderError); `call_kw`
    (source, batch_job_id, actor) tag the Run row."""
    if isinstance(client, ModelClient):
        return await client.embed(model=model_ref, inputs=texts, **call_kw)
    own = getattr(client, "embed", None)
    if own is not None and inspect.iscoroutinefunction(own):
        return await own(model=model_ref, inputs=texts)
    return await get_client(engine or getattr(client, "engine", None)).embed(model=model_ref, inputs=texts, **call_kw)
