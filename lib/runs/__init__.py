"""Run rows: the call types and the one Run-row builder (`run_row`), the run writer (batched
inserts from the client loop) and run queries (list, get, rate).

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .calls import CallSpec, RunResult, construct, make_storable, run_row, spec_for_version, storable, storable_text
from .queries import get_run, list_runs, rate_run, run_to_dict, run_users
from .writer import RunLogWriter

__all__ = [
    "CallSpec",
    "RunResult",
    "RunLogWriter",
    "construct",
    "get_run",
    "list_runs",
    "make_storable",
    "rate_run",
    "run_row",
    "run_to_dict",
    "run_users",
    "spec_for_version",
    "storable",
    "storable_text",
]
