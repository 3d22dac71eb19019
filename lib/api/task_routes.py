"""`/api/tasks/...`, `/api/services/`, `/api/monitoring/metrics/`: the seed orchestrator's task API."""

from __future__ import annotations

from fastapi import APIRouter

from .schemas import ERROR_RESPONSES

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)  # type: ignore[arg-type]
