"""Datasets: reading CSV/TSV/JSONL/JSON (encoding, caps, promptfoo conventions), stored datasets,
column mapping and lint, and formula-safe export.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .export import MIME, to_bytes, write
from .mapping import auto_map, has_errors, lint, preview, row_values, suggest_columns
from .promptfoo import ImportReport, import_promptfoo
from .reader import read_file
from .store import (
    MAX_BYTES,
    add_rows,
    delete_dataset,
    get_dataset,
    get_rows,
    import_dataset,
    list_datasets,
    revisions,
    save_revision,
)

__all__ = [
    "ImportReport",
    "MAX_BYTES",
    "MIME",
    "add_rows",
    "auto_map",
    "suggest_columns",
    "delete_dataset",
    "get_dataset",
    "get_rows",
    "has_errors",
    "import_dataset",
    "import_promptfoo",
    "lint",
    "list_datasets",
    "preview",
    "read_file",
    "revisions",
    "row_values",
    "save_revision",
    "to_bytes",
    "write",
]
