"""`python -m lib`: the command line, built from the same functions the pages use.

Each area registers its commands from its own module (`register(app)`), so this
file only assembles them. The CLI acts as the local operator (`identity.cli_operator()`).
"""

from __future__ import annotations

import logging

import typer

from lib.api import dispatcher, enable_webhooks
from lib.bootstrap import startup
from lib.db import redact_url
from lib.runtime import tune_gc
from lib.settings import get_settings

from . import audit, batch, client, datasets, db, imports, metrics, prompts, tokens, webhooks
from .common import fail

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Prompt Workbench command line.")

# each has `register(app: typer.Typer)`
COMMAND_MODULES = (db, prompts, client, datasets, batch, metrics, tokens, imports, webhooks, audit)
_built = False


@app.callback()
def _startup() -> None:
    """Migrate, create default endpoints and seed examples before any command (idempotent)."""
    enable_webhooks()
    try:
        startup()
    except Exception as exc:  # noqa: BLE001  (e.g. database unreachable: one line, no traceback)
        fail(f"cannot open the database {redact_url(get_settings().resolved_database_url())}: "
             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def build() -> typer.Typer:
    """Register every command module (once)."""
    global _built
    if not _built:
        _built = True
        for mod in COMMAND_MODULES:
            mod.register(app)
    return app


def main() -> None:
    """Entry point of `python -m lib`."""
    logging.basicConfig(level=logging.WARNING)
    tune_gc()  # batches and the worker run here: the GC policy of every workbench process
    try:
        build()(prog_name="python -m lib")
    finally:
        # first tries of what this command committed; retries stay in the outbox for the server's worker
        dispatcher().drain(timeout_s=30, retries=False)
