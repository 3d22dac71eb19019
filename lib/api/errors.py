"""Every HTTP error as JSON `{"error": {"type", "message", "param"}}` with the right status, never a traceback.

The shape is OpenAI's, so the `openai` SDK raises its typed errors (AuthenticationError, RateLimitError...)
from the gateway's answers; the prompt and task APIs use the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lib.errors import (
    ConflictError,
    MissingVariablesError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    TemplateError,
    ValidationError,
    WorkbenchError,
)

from .tokens import AuthenticationFailed, RateLimited

log = logging.getLogger(__name__)

STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 405: "invalid_request_error", 409: "conflict_error",
                413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
                500: "api_error", 502: "upstream_error", 503: "api_error", 504: "upstream_error"}


class ApiError(Exception):
    """An error a route raises on purpose, with its status, type, message and offending parameter."""

    def __init__(self, status: int, message: str, *, type_: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.type = type_ or STATUS_TYPES.get(status, "api_error")
        self.headers = headers or {}
        self.extra = extra or {}


def error_body(type_: str, message: str, param: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error."""
    return {"error": {"type": type_, "message": message, "param": param, "code": extra.pop("code", None),
                      **extra}}


def to_api_error(exc: Exception) -> ApiError:
    """The status and body for a workbench error (anything else is a 500 with no detail)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AuthenticationFailed):
        return ApiError(401, exc.message, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, RateLimited):
        return ApiError(429, exc.message, headers={"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, PermissionDeniedError):
        return ApiError(403, exc.message)
    if isinstance(exc, NotFoundError):
        return ApiError(404, exc.message)
    if isinstance(exc, ConflictError):
        return ApiError(409, exc.message)
    if isinstance(exc, MissingVariablesError):
        return ApiError(422, exc.message, type_="missing_variables", param="variables",
                        extra={"missing": list(exc.missing)})
    if isinstance(exc, TemplateError):
        return ApiError(422, exc.message, type_="template_error", param="variables")
    if isinstance(exc, ValidationError):
        return ApiError(400, exc.message)
    if isinstance(exc, ProviderError):
        status = exc.status_code if exc.status_code in (400, 401, 403, 404, 422, 429) else 502
        return ApiError(status, exc.message, type_="upstream_error")
    if isinstance(exc, WorkbenchError):
        return ApiError(400, exc.message)
    return ApiError(500, "internal error (logged on the server)")


def respond(err: ApiError) -> JSONResponse:
    """The JSON response for an ApiError."""
    return JSONResponse(error_body(err.type, err.message, err.param, **err.extra), status_code=err.status,
                        headers=err.headers)


def _param(loc: tuple | list) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error shape."""

    async def on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        param = _param(first.get("loc", ()))
        where = f"{param}: " if param else ""
        return respond(ApiError(422, f"{where}{first.get('msg', 'invalid request')}", param=param))

    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return respond(ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))

    async def on_workbench(_request: Request, exc: Exception) -> JSONResponse:
        err = to_api_error(exc)
        if err.status >= 500:
            log.exception("API request failed: %s", type(exc).__name__)
        return respond(err)

    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, on_workbench)
    app.add_exception_handler(WorkbenchError, on_workbench)
    app.add_exception_handler(Exception, on_workbench)
