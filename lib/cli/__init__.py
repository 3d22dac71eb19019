"""The command line `python -m lib` (typer): prompts, endpoints, runs, datasets, batch, metrics, db.

Transactions: a command is a caller. It opens `lib.db.session_scope()` around the lib calls of one
action, which commits on success and rolls back on error; the lib functions it calls only flush.
"""

from __future__ import annotations

from .app import main

__all__ = [
    "main",
]
