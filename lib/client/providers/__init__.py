"""Model providers: one module per wire protocol, all behind `base.Provider`."""

from __future__ import annotations

import httpx

from .anthropic import AnthropicProvider
from .base import ChatRequest, ChatResponse, EndpointConfig, Provider, ProviderEvent
from .echo import EchoProvider
from .openai_compat import OpenAICompatProvider

__all__ = ["ChatRequest", "ChatResponse", "EndpointConfig", "Provider", "ProviderEvent", "make_provider"]


def make_provider(config: EndpointConfig, *, api_key: str | None = None,
                  transport: httpx.AsyncBaseTransport | None = None) -> Provider:
    """The provider for an endpoint's kind."""
    if config.kind == "echo":
        return EchoProvider(config)
    if config.kind == "anthropic":
        return AnthropicProvider(config, api_key=api_key, transport=transport)
    return OpenAICompatProvider(config, api_key=api_key, transport=transport)
