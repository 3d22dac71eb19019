"""Batch jobs: submit, leases, the runner, the worker, provider batch mode, preflight and results.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .jobs import cancel, get_job, list_jobs, pause, progress, resume, retry_failed, submit
from .junit import write_junit
from .planning import preflight
from .reports import export_job, matrix, pass_rates, records, results, version_labels
from .titles import job_titles
from .viewer import cell as item_detail
from .viewer import clear_grade, evaluators_of
from .viewer import grade as grade_item
from .viewer import grid as results_grid
from .worker import run_job_foreground, run_worker, start_background_worker

__all__ = [
    "cancel",
    "clear_grade",
    "evaluators_of",
    "export_job",
    "get_job",
    "grade_item",
    "item_detail",
    "job_titles",
    "list_jobs",
    "matrix",
    "pass_rates",
    "pause",
    "preflight",
    "progress",
    "records",
    "results",
    "results_grid",
    "resume",
    "retry_failed",
    "run_job_foreground",
    "run_worker",
    "start_background_worker",
    "submit",
    "version_labels",
    "write_junit",
]
