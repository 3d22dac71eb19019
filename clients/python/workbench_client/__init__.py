"""Prompt Workbench client: prompts by label from production code (httpx only)."""

from __future__ import annotations

from .client import Prompt, WorkbenchClient
from .errors import (
    AuthenticationError,
    MissingVariablesError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WorkbenchClientError,
    WorkbenchConnectionError,
)

__all__ = [
    "AuthenticationError",
    "MissingVariablesError",
    "NotFoundError",
    "PermissionDeniedError",
    "Prompt",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "WorkbenchClient",
    "WorkbenchClientError",
    "WorkbenchConnectionError",
]
