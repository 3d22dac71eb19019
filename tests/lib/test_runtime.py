"""The process-wide GC policy: raised thresholds, never lowered, applied by `python -m lib`."""

from __future__ import annotations

import gc
import subprocess
import sys

from lib.runtime import GC_THRESHOLDS, tune_gc
from tests.conftest import ROOT


def test_tune_gc_raises_and_never_lowers():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 200)
        tune_gc()
        assert gc.get_threshold() == (GC_THRESHOLDS[0], GC_THRESHOLDS[1], 200)
    finally:
        gc.set_threshold(*before)


def test_the_cli_process_runs_with_the_policy(tmp_path):
    code = ("import gc, sys\nsys.argv = ['python -m lib', '--help']\nfrom lib.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('GC', gc.get_threshold())\n")
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/wb.db", "WORKBENCH_SEED_EXAMPLES": "0",
           "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert f"GC {GC_THRESHOLDS}" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
