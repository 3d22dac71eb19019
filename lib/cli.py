"""`python -m lib`: the command line, built from the same functions the pages use.

Each area registers its commands from its own module (`register(app)`), so this
file only assembles them.
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Prompt Workbench command line.")

# Modules that contribute commands; each has `register(app: typer.Typer)`.
_COMMAND_MODULES = ("lib.cli_db", "lib.cli_prompts", "lib.cli_client", "lib.cli_datasets", "lib.cli_batch",
                    "lib.cli_metrics")


_built = False


@app.callback()
def _startup() -> None:
    """Migrate, create default endpoints and seed examples before any command (idempotent)."""
    from .bootstrap import startup
    from .cli_common import fail

    try:
        startup()
    except Exception as exc:  # e.g. database unreachable: one line, no traceback
        from .db import redact_url
        from .settings import get_settings

        fail(f"cannot open the database {redact_url(get_settings().resolved_database_url())}: "
             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def build() -> typer.Typer:
    """Register every command module that exists in this checkout (once)."""
    global _built
    if _built:
        return app
    _built = True
    for name in _COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        mod.register(app)
    return app


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    build()(prog_name="python -m lib")
