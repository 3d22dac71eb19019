"""Custom evaluators `python:module:function`, run in a subprocess with a time limit.

The module is looked up only in the folder `WORKBENCH_EVALUATORS_DIR` (a name, never a path).
The function is called as `function(output, row)` and returns one of:

    True / False                      passed, score 1 or 0
    a number in [0, 1]                the score; passed when >= the spec's threshold (default 0.5)
    {"passed": ..., "score": ..., "reason": ...}   any of the three

Each call is a fresh `python -I` process (isolated mode, cwd = the folder, an environment
without the process's keys), so an evaluator that raises, hangs, exits, prints to stdout or
returns junk fails its own score only (passed = None, the reason says why); the job goes on.
What the function prints goes to the child's stderr, and the result travels on a marked line.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

from lib.settings import get_settings

from .specs import EvaluatorSpec, check_python_name

DEFAULT_PASS = 0.5
MARK = "\x1eWB-RESULT "
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
_MAX_OUT = 1_000_000
CHILDREN = 4  # evaluator processes at once per event loop (the machine has few cores)
_sems: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# Runs in the child: argv = [folder, module, function]; stdin = {"output", "row"} as JSON.
CHILD = r"""
import importlib, json, math, os, sys
folder, module, function = sys.argv[1:4]
sys.path.insert(0, folder)
real = os.fdopen(os.dup(1), "w")
sys.stdout = sys.stderr
def send(obj):
    real.write("\x1eWB-RESULT " + json.dumps(obj) + "\n"); real.flush()
try:
    data = json.loads(sys.stdin.read())
    fn = getattr(importlib.import_module(module), function)
    value = fn(data["output"], data["row"])
except BaseException as exc:
    send({"error": f"raised {type(exc).__name__}: {exc}"[:500]})
    sys.exit(0)
def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
if isinstance(value, bool):
    send({"passed": value})
elif num(value):
    send({"score": float(value)})
elif isinstance(value, dict) and set(value) <= {"passed", "score", "reason"} and value and \
        (value.get("passed") is None or isinstance(value.get("passed"), bool)) and \
        (value.get("score") is None or num(value.get("score"))):
    send({"passed": value.get("passed"), "score": value.get("score"), "reason": str(value.get("reason") or "")[:1000]})
else:
    send({"error": "returned " + type(value).__name__ + " (" + repr(value)[:80] + "); expected a bool, "
          "a number in [0, 1] or {passed, score, reason}"})
"""


def evaluators_dir() -> Path | None:
    """The configured folder, or None."""
    d = get_settings().evaluators_dir
    return Path(d).expanduser().resolve() if d else None


def _env() -> dict[str, str]:
    # keys and database URLs never reach user code: only locale and PATH pass through
    return {k: os.environ[k] for k in _ENV_KEEP if k in os.environ} | {"PYTHONDONTWRITEBYTECODE": "1",
                                                                         "PYTHONIOENCODING": "utf-8"}


def _prepare(spec: EvaluatorSpec, output: str, row: dict | None) -> tuple[list[str], bytes, Path] | str:
    folder = evaluators_dir()
    if folder is None or not folder.is_dir():
        return f"python evaluators need WORKBENCH_EVALUATORS_DIR set to a folder (now {str(folder or '') or 'unset'})"
    module, function = check_python_name(spec.value).split(":")
    args = [sys.executable, "-I", "-c", CHILD, str(folder), module, function]
    payload = json.dumps({"output": output, "row": dict(row or {})}, default=str).encode()
    return args, payload, folder


def _result(spec: EvaluatorSpec, stdout: bytes, returncode: int, stderr: bytes) -> tuple[bool | None, float | None,
                                                                                       str]:
    name = f"python:{spec.value}"
    # split on "\n" only: str.splitlines() also breaks at \x1e, the mark's first character
    lines = [ln for ln in stdout.decode("utf-8", "replace").split("\n") if ln.startswith(MARK)]
    if not lines:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {returncode}"]
        return None, None, f"error: {name} gave no result ({tail[0][:200]})"
    try:
        res = json.loads(lines[-1][len(MARK):])
    except json.JSONDecodeError:
        return None, None, f"error: {name} wrote an unreadable result"
    if "error" in res:
        return None, None, f"error: {name} {res['error']}"
    score, passed = res.get("score"), res.get("passed")
    if score is not None and not 0.0 <= score <= 1.0:
        return None, None, f"error: {name} returned score {score}, outside [0, 1]"
    if passed is None and score is not None:
        threshold = spec.threshold if spec.threshold is not None else DEFAULT_PASS
        passed = score >= threshold
    if score is None and passed is not None:
        score = 1.0 if passed else 0.0
    reason = res.get("reason") or (f"{name}: score {score:g}" if score is not None else name)
    return passed, score, reason


def run_sync(spec: EvaluatorSpec, output: str, row: dict | None, timeout_s: float | None = None
             ) -> tuple[bool | None, float | None, str]:
    """Run a python evaluator and wait (blocking); (passed, score, reason)."""
    prep = _prepare(spec, output, row)
    if isinstance(prep, str):
        return None, None, f"error: {prep}"
    args, payload, folder = prep
    limit = timeout_s or get_settings().evaluator_timeout_s
    try:
        proc = subprocess.run(args, input=payload, capture_output=True, timeout=limit, cwd=folder, env=_env(),
                              check=False)
    except subprocess.TimeoutExpired:
        return None, None, f"error: python:{spec.value} timed out after {limit:g} s"
    return _result(spec, proc.stdout[:_MAX_OUT], proc.returncode, proc.stderr[-4000:])


async def run_async(spec: EvaluatorSpec, output: str, row: dict | None, timeout_s: float | None = None
                    ) -> tuple[bool | None, float | None, str]:
    """Run a python evaluator without blocking the event loop; (passed, score, reason)."""
    prep = _prepare(spec, output, row)
    if isinstance(prep, str):
        return None, None, f"error: {prep}"
    args, payload, folder = prep
    limit = timeout_s or get_settings().evaluator_timeout_s
    loop = asyncio.get_running_loop()
    sem = _sems.get(loop)
    if sem is None:
        sem = _sems[loop] = asyncio.Semaphore(CHILDREN)
    async with sem:
        proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                    cwd=folder, env=_env())
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(payload), timeout=limit)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None, None, f"error: python:{spec.value} timed out after {limit:g} s"
    return _result(spec, stdout[:_MAX_OUT], proc.returncode or 0, stderr[-4000:])
