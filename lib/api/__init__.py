"""The HTTP surface: prompt API, task API, OpenAI-compatible gateway, and the API tokens behind them.

Served in the Streamlit process and port (`st.App(..., routes=api_routes())` in app.py).

Transactions: a route is a caller. It opens `lib.db.session_scope()` around the lib calls of one
request, which commits on success and rolls back on error; the functions here that take a
`session` flush and never commit.
"""

from __future__ import annotations

from .outbox import Dispatcher, RetryPolicy, dispatcher, enable_webhooks, set_dispatcher
from .server import api_routes, create_api
from .tokens import (
    AuthenticationFailed,
    RateLimited,
    TokenInfo,
    TokenRateLimiter,
    authenticate,
    clear_token_cache,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
)
from .webhooks import (
    EVENTS,
    add_webhook,
    deliveries,
    list_webhooks,
    outbox_summary,
    remove_webhook,
    sign,
    verify_signature,
)

__all__ = [
    "EVENTS",
    "Dispatcher",
    "RetryPolicy",
    "add_webhook",
    "deliveries",
    "dispatcher",
    "enable_webhooks",
    "list_webhooks",
    "outbox_summary",
    "remove_webhook",
    "set_dispatcher",
    "sign",
    "verify_signature",
    "AuthenticationFailed",
    "RateLimited",
    "TokenInfo",
    "TokenRateLimiter",
    "api_routes",
    "authenticate",
    "clear_token_cache",
    "create_api",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
]
