"""Start-up: migrate the database, create default endpoints and seed the examples once."""

from __future__ import annotations

import importlib
import logging

from sqlalchemy.engine import Engine

from . import db
from .examples import reset_examples as _reset
from .examples import seed_examples
from .settings import get_settings

log = logging.getLogger(__name__)


def _ensure_endpoints(session) -> None:
    try:
        endpoints = importlib.import_module("lib.endpoints")
    except ModuleNotFoundError:
        return
    endpoints.ensure_defaults(session)


def startup(engine: Engine | None = None) -> dict:
    """Idempotent: migrations, default endpoints (echo, and OpenAI/Anthropic from env keys), examples."""
    engine = engine or db.get_engine()
    revision = db.upgrade(engine)
    seeded: list[str] = []
    with db.session_scope(engine) as session:
        _ensure_endpoints(session)
        if get_settings().seed_examples:
            seeded = seed_examples(session=session)
    if seeded:
        log.info("seeded example prompts: %s", ", ".join(seeded))
    return {"revision": revision, "seeded": seeded}


def reset_examples(engine: Engine | None = None) -> list[str]:
    """Restore the example prompts (see lib.examples.reset_examples)."""
    with db.session_scope(engine or db.get_engine()) as session:
        return _reset(session=session)
