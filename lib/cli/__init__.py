"""The command line `python -m lib` (typer): prompts, endpoints, runs, datasets, batch, metrics, db.
"""

from __future__ import annotations

from .app import main

__all__ = [
    "main",
]
