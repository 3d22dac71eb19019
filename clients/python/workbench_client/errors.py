"""Typed errors of the workbench client; each says whether retrying may help (`retryable`).

    WorkbenchClientError
    ├── AuthenticationError       401: missing, invalid or revoked token
    ├── PermissionDeniedError     403: the token's scope does not allow it
    ├── NotFoundError             404: no such prompt, version or label
    ├── ValidationError           400 / 422: bad input
    │   └── MissingVariablesError 422: variables without a value (missing)
    ├── RateLimitError            429 (retryable, retry_after)
    ├── ServerError               5xx (retryable)
    └── WorkbenchConnectionError  unreachable or timed out (retryable)
"""

from __future__ import annotations

from typing import Any


class WorkbenchClientError(Exception):
    """Base of every error the client raises."""

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None, type: str | None = None,  # noqa: A002
                 param: str | None = None, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.body = body or {}


class AuthenticationError(WorkbenchClientError):
    """The token is missing, invalid or revoked."""


class PermissionDeniedError(WorkbenchClientError):
    """The token's scope does not allow this."""


class NotFoundError(WorkbenchClientError):
    """No such prompt, version or label."""


class ValidationError(WorkbenchClientError):
    """The request was malformed."""


class MissingVariablesError(ValidationError):
    """Rendering needs variables that were not given; `missing` names every one."""

    def __init__(self, message: str, *, missing: list[str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing = missing


class RateLimitError(WorkbenchClientError):
    """Over the token's requests per minute; `retry_after` is in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(WorkbenchClientError):
    """The workbench failed (5xx)."""

    retryable = True


class WorkbenchConnectionError(WorkbenchClientError):
    """The workbench could not be reached, or did not answer in time."""

    retryable = True


def error_from_response(status: int, body: Any, headers: Any) -> WorkbenchClientError:
    """The typed error for an error answer."""
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    message = str(err.get("message") or f"HTTP {status}")
    kw: dict[str, Any] = {"status_code": status, "type": err.get("type"), "param": err.get("param"),
                          "body": body if isinstance(body, dict) else {}}
    if status == 401:
        return AuthenticationError(message, **kw)
    if status == 403:
        return PermissionDeniedError(message, **kw)
    if status == 404:
        return NotFoundError(message, **kw)
    if status == 422 and err.get("missing"):
        return MissingVariablesError(message, missing=list(err["missing"]), **kw)
    if status in (400, 409, 413, 422):
        return ValidationError(message, **kw)
    if status == 429:
        retry = headers.get("retry-after")
        try:
            after = float(retry) if retry is not None else None
        except ValueError:
            after = None
        return RateLimitError(message, retry_after=after, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    return WorkbenchClientError(message, **kw)
