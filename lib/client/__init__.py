"""Model calls: endpoints, the provider registry (`providers/`), the one call executor, retry policy,
limits, pricing, response cache, embeddings, and the process-wide `ModelClient`.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .embeddings import embed
from .endpoints import (
    KINDS,
    add_endpoint,
    delete_endpoint,
    ensure_defaults,
    get_endpoint,
    list_endpoints,
    load_config,
    record_check,
    split_model_ref,
    update_endpoint,
)
from .model_client import ModelClient, get_client, health
from .pricing import cost_usd, delete_override, list_prices, price_for, set_override
from .providers import PROVIDERS, provider_class
from .providers.base import error_for_status
from .providers.openai_compat import api_root

__all__ = [
    "KINDS",
    "PROVIDERS",
    "ModelClient",
    "add_endpoint",
    "api_root",
    "cost_usd",
    "delete_endpoint",
    "delete_override",
    "embed",
    "ensure_defaults",
    "error_for_status",
    "get_client",
    "get_endpoint",
    "health",
    "list_endpoints",
    "list_prices",
    "load_config",
    "price_for",
    "provider_class",
    "record_check",
    "set_override",
    "split_model_ref",
    "update_endpoint",
]
