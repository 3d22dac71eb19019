"""Typed errors for the whole workbench.

Every error a user can cause or meet is one of these, with a message that says
what is wrong and where.  Nothing here ever carries an API key.

    WorkbenchError                     (retryable = False)
    ├── NotFoundError                  unknown prompt, version, label, endpoint, run, dataset, job
    ├── ConflictError                  duplicate name, stale edit
    ├── ValidationError                bad input: empty messages, unknown role, bad parameter
    ├── TemplateError                  malformed template, sandbox violation, render cap
    │   └── MissingVariablesError      (missing: list[str])
    ├── DatasetError                   (row, column)
    ├── BudgetExceededError
    ├── PermissionDeniedError          the acting identity's role or token scope does not allow it (action)
    └── ProviderError                  (status_code, body, request_id, provider_message)
        ├── BadRequestError            400 / 422
        ├── AuthenticationError        401 / 403
        ├── ModelNotFoundError         404
        ├── RateLimitError             429   (retryable)
        ├── ServerError                408 / 409 / 5xx (retryable)
        ├── ProtocolError              malformed body, error event after HTTP 200
        ├── IncompleteStreamError      stream ended before its terminal event (partial_text)
        └── ProviderConnectionError    refused, reset, DNS (retryable)
            └── ProviderTimeoutError   deadline or read timeout (retryable)
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every error the workbench raises on purpose."""

    retryable: bool = False
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(WorkbenchError):
    """Something named does not exist."""

    kind = "not_found"


class ConflictError(WorkbenchError):
    """A name is taken or the state changed under us."""

    kind = "conflict"


class ValidationError(WorkbenchError):
    """Input is malformed (empty messages, unknown role, bad parameter...)."""

    kind = "validation"


class TemplateError(WorkbenchError):
    """A template cannot be parsed or rendered."""

    kind = "template"


class MissingVariablesError(TemplateError):
    """One or more variables have no value; names every missing one."""

    kind = "missing_variables"

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        names = ", ".join(self.missing)
        super().__init__(f"missing value for variable{'s' if len(self.missing) > 1 else ''}: {names}")


class DatasetError(WorkbenchError):
    """A dataset file is unusable; says which row and column when it knows."""

    kind = "dataset"

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None,
                 file: str | None = None) -> None:
        self.row, self.column, self.file = row, column, file
        where = []
        if file:
            where.append(f"file {file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class BudgetExceededError(WorkbenchError):
    """A job's spend reached its budget."""

    kind = "budget"


class PermissionDeniedError(WorkbenchError):
    """The acting identity (role or token scope) may not take this action; nothing was changed."""

    kind = "permission"

    def __init__(self, message: str, *, action: str | None = None) -> None:
        self.action = action
        super().__init__(message)


class ProviderError(WorkbenchError):
    """A model provider failed; carries status, provider message and request id, never the key."""

    kind = "provider"

    def __init__(self, message: str, *, status_code: int | None = None, body: str | None = None,
                 request_id: str | None = None, provider_message: str | None = None) -> None:
        self.status_code = status_code
        self.body = body[:2000] if body else body
        self.request_id = request_id
        self.provider_message = provider_message
        super().__init__(message)


class BadRequestError(ProviderError):
    kind = "bad_request"


class AuthenticationError(ProviderError):
    kind = "auth"


class ModelNotFoundError(ProviderError):
    kind = "not_found"


class RateLimitError(ProviderError):
    retryable = True
    kind = "rate_limited"


class ServerError(ProviderError):
    retryable = True
    kind = "server"


class ProtocolError(ProviderError):
    kind = "protocol"


class IncompleteStreamError(ProviderError):
    """The stream stopped before its terminal event; partial_text is what arrived."""

    kind = "incomplete"

    def __init__(self, message: str, *, partial_text: str = "", **kw) -> None:
        self.partial_text = partial_text
        super().__init__(message, **kw)


class ProviderConnectionError(ProviderError):
    retryable = True
    kind = "connection"


class ProviderTimeoutError(ProviderConnectionError):
    kind = "timeout"
