"""Model providers: one module per wire protocol, all behind `base.Provider`."""

from __future__ import annotations

import httpx

from .base import ChatRequest, ChatResponse, EndpointConfig, Provider, ProviderEvent

__all__ = ["ChatRequest", "ChatResponse", "EndpointConfig", "Provider", "ProviderEvent", "make_provider"]


def make_provider(config: EndpointConfig, *, api_key: str | None = None,
                  transport: httpx.AsyncBaseTransport | None = None) -> Provider:
    """The provider for an endpoint's kind."""
    if config.kind == "echo":
        from .echo import EchoProvider

        return EchoProvider(config)
    if config.kind == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(config, api_key=api_key, transport=transport)
    from .openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(config, api_key=api_key, transport=transport)
