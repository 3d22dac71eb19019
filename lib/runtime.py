"""Process-wide runtime settings every workbench process applies at start: the cyclic-GC thresholds.

With Python's defaults (700, 10, 10) the objects of the calls in flight (tasks, futures, responses,
Run rows) outlive the young collections, get promoted, and trigger full collections of the whole heap
(~220k objects once SQLAlchemy, pydantic and the providers are loaded) every few hundred calls.
Measured: GC took about half of the gateway's CPU, and 3.4-3.9 s of a 12,000-call client benchmark
run (17 full collections) against 0.07-0.13 s with these thresholds.  Objects freed by reference
counting (nearly all of a call's) never reach the collector either way; cyclic garbage is still
collected, only less often.

Applied by the serving process (`lib.api.api_routes`) and the CLI (`python -m lib`, which runs
batches and the worker); the benchmarks apply it too, so the library and its baselines run under the
policy of the product's processes.
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_gc"]

GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """Raise the cyclic-GC thresholds of this process to at least GC_THRESHOLDS (never lowers them)."""
    gc.set_threshold(*(max(have, want) for have, want in zip(gc.get_threshold(), GC_THRESHOLDS, strict=True)))
