"""Start-up: migrate the database, create default endpoints and seed the examples once."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from lib import db
from lib.client import ensure_defaults
from lib.identity import SYSTEM, Identity
from lib.settings import get_settings

from .examples import reset_examples as _reset
from .examples import seed_example_datasets, seed_examples

log = logging.getLogger(__name__)


def startup(engine: Engine | None = None) -> dict:
    """Idempotent: migrations, default endpoints (echo, and OpenAI/Anthropic from env keys), examples."""
    engine = engine or db.get_engine()
    revision = db.upgrade(engine)
    seeded: list[str] = []
    with db.session_scope(engine) as session:
        ensure_defaults(session, actor=SYSTEM)
        if get_settings().seed_examples:
            seeded = seed_examples(session=session, actor=SYSTEM)
            if seeded:  # first start: the example datasets that fit the example prompts
                seed_example_datasets(session=session, actor=SYSTEM)
    if seeded:
        log.info("seeded example prompts: %s", ", ".join(seeded))
    return {"revision": revision, "seeded": seeded}


def reset_examples(engine: Engine | None = None, *, actor: Identity) -> list[str]:
    """Restore the example prompts as `actor` (see lib.examples.reset_examples)."""
    with db.session_scope(engine or db.get_engine()) as session:
        return _reset(session=session, actor=actor)
