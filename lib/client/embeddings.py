"""Embedding vectors for the `similar-embed` evaluator, from an endpoint's /v1/embeddings.

Uses the model client's `embed` when it has one; otherwise builds the endpoint's
provider (the key is read from env/secrets at call time, never stored) and closes it.
The echo endpoint gives a deterministic bag-of-letters vector so tests run offline.
"""

from __future__ import annotations

import inspect
from typing import Any

from lib.credentials import get_secret
from lib.db import get_engine, session_scope
from lib.errors import ValidationError

from .endpoints import load_config, split_model_ref
from .providers import make_provider


def _echo_vector(text: str) -> list[float]:
    vec = [0.0] * 27
    for ch in text.casefold():
        vec[ord(ch) - 97 if "a" <= ch <= "z" else 26] += 1.0
    return vec


async def embed(model_ref: str, texts: list[str], *, client: Any = None, engine: Any = None) -> list[list[float]]:
    """One vector per text from `endpoint/model`'s embeddings API."""
    endpoint, model = split_model_ref(model_ref)
    client_embed = getattr(client, "embed", None)
    if client_embed is not None and inspect.iscoroutinefunction(client_embed):
        return await client_embed(model=model_ref, inputs=texts)
    with session_scope(engine or getattr(client, "engine", None) or get_engine()) as session:
        config = load_config(session=session, name=endpoint)
    if config.kind == "echo":
        return [_echo_vector(t) for t in texts]
    if config.kind != "openai":
        raise ValidationError(f"endpoint {endpoint!r} ({config.kind}) has no embeddings API; "
                              "use an OpenAI-compatible one")
    provider = make_provider(config, api_key=get_secret(config.api_key_env))
    try:
        return await provider.embed(model, texts)  # type: ignore[attr-defined]
    finally:
        await provider.aclose()
