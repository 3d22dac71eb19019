"""What an endpoint check says when it fails: a short kind and a message in our own words.

The message names the configured URL (password redacted) and never carries a remote body, so
Test cannot be used to probe what answers on a port.
"""

from __future__ import annotations

from lib.db import redact_url
from lib.errors import ProviderConnectionError, ProviderTimeoutError

from .providers.base import EndpointConfig


def health_kind(exc: Exception) -> str:
    """A short kind for a failed check: timeout, unreachable, key refused, http, or the error's own kind."""
    if isinstance(exc, (TimeoutError, ProviderTimeoutError)):
        return "timeout"
    if isinstance(exc, ProviderConnectionError):
        return "unreachable"
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return "key refused"
    if status is not None:
        return "http"
    return str(getattr(exc, "kind", "error"))[:30]


def health_error(exc: Exception, cfg: EndpointConfig, timeout_s: float) -> str:
    """Reachable or unreachable for the configured URL only: never a remote body (Test is no port oracle)."""
    where = redact_url(cfg.base_url) if cfg.base_url else cfg.kind
    kind = getattr(exc, "kind", "timeout")
    status = getattr(exc, "status_code", None)
    if isinstance(exc, (TimeoutError, ProviderTimeoutError)):
        return f"unreachable: no answer from {where} within {timeout_s:.0f}s"
    if isinstance(exc, ProviderConnectionError):
        return f"unreachable: cannot connect to {where}"
    if status is None:  # raised here before any request (no key, a refused key variable): our own words
        return f"{kind}: {exc}"
    if status in (401, 403):
        return f"reachable: {where} refused the key (HTTP {status})"
    return f"reachable: {where} answered HTTP {status}, not a model listing"
