"""Start-up: migrations, default endpoints, example prompts and datasets, the worker thread.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .launch import reset_examples, startup

__all__ = [
    "reset_examples",
    "startup",
]
