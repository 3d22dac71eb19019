"""Model providers: one module per wire protocol, all behind `base.Provider`.

`PROVIDERS` is the one registry (kind -> provider class): the endpoint kinds, their default
base URLs and the price-provider ids are derived from it, so adding a kind touches this table
and the new module only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from lib.errors import ValidationError

from .anthropic import AnthropicProvider
from .base import ChatRequest, ChatResponse, EndpointConfig, Provider, ProviderEvent
from .echo import EchoProvider
from .openai_compat import OpenAICompatProvider

PROVIDERS: dict[str, type[Provider]] = {
    "openai": OpenAICompatProvider,
    "anthropic": AnthropicProvider,
    "echo": EchoProvider,
}
KINDS: tuple[str, ...] = tuple(PROVIDERS)
# bundled-price provider id by API host (api.openai.com -> openai, ...)
PRICE_HOSTS: dict[str, str] = {(urlsplit(cls.default_base_url).hostname or ""): cls.price_provider
                               for cls in PROVIDERS.values() if cls.default_base_url and cls.price_provider}

__all__ = ["KINDS", "PRICE_HOSTS", "PROVIDERS", "ChatRequest", "ChatResponse", "EndpointConfig", "Provider",
           "ProviderEvent", "default_base_url", "make_provider", "provider_class"]


def provider_class(kind: str) -> type[Provider]:
    """The provider class of an endpoint kind (ValidationError naming the kinds for an unknown one)."""
    cls = PROVIDERS.get(kind)
    if cls is None:
        raise ValidationError(f"endpoint kind {kind!r}: expected one of {', '.join(KINDS)}")
    return cls


def default_base_url(kind: str) -> str:
    """The kind's default API base URL ('' for a local kind such as echo)."""
    return provider_class(kind).default_base_url


def make_provider(config: EndpointConfig, *, api_key: str | None = None,
                  transport: httpx.AsyncBaseTransport | None = None) -> Provider:
    """The provider for an endpoint's kind."""
    return provider_class(config.kind)(config, api_key=api_key, transport=transport)
