"""The FastAPI application behind `/api/...`, `/v1/...` and `/health`, and its hand-over to `st.App`.

`create_api()` builds the app (OpenAPI at /api/openapi.json, docs at /api/docs). `api_routes()` wraps it
in one Starlette route that claims those paths unchanged, so `st.App("app.py", routes=api_routes())`
serves the API on the Streamlit port, beside the pages, from `streamlit run app.py`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from lib.db import get_engine
from lib.runtime import tune_gc

from . import errors, gateway, prompt_routes, task_routes
from .fastpath import CachedFetchMiddleware
from .payload_cache import PayloadCache
from .tokens import TokenRateLimiter

PREFIXES = ("/api", "/v1")
EXACT = ("/health",)
def create_api(engine_factory: Callable[[], Engine] | None = None,
               limiter: TokenRateLimiter | None = None) -> FastAPI:
    """The HTTP API; `engine_factory` gives the database (default: the configured one)."""
    app = FastAPI(title="Prompt Workbench API", version="1",
                  description="Prompts by label, renders, runs and metrics (`/api/v1`), the seed orchestrator's "
                              "task API (`/api/tasks`) and an OpenAI-compatible gateway (`/v1`). "
                              "Authenticate with `Authorization: Bearer <workbench token>`.",
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None)
    app.state.engine_factory = engine_factory or get_engine
    app.state.token_limiter = limiter or TokenRateLimiter()
    app.state.payload_cache = PayloadCache()
    errors.install(app)
    app.add_middleware(CachedFetchMiddleware)
    app.include_router(prompt_routes.router)
    app.include_router(task_routes.router)
    app.include_router(gateway.router)
    return app


class ApiMount(BaseRoute):
    """Hands every request under the API's paths to the FastAPI app, path unchanged (a Mount would strip it)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL for HTTP requests on /api/..., /v1/... or /health; NONE otherwise."""
        if scope["type"] != "http":
            return Match.NONE, {}
        path = scope["path"]
        if path in EXACT or any(path == p or path.startswith(p + "/") for p in PREFIXES):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request through the FastAPI app."""
        await self.app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: object):  # type: ignore[override]
        """Named URLs of the API are the FastAPI app's."""
        return self.app.url_path_for(name, **path_params)


def api_routes(engine_factory: Callable[[], Engine] | None = None) -> list[BaseRoute]:
    """The routes to give `st.App(..., routes=...)` (the serving process: its GC is tuned here too)."""
    tune_gc()
    return [ApiMount(create_api(engine_factory))]
