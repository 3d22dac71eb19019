"""The three Jinja2 attacks of #11 item 7, each in a fresh process: seconds and peak MB.

    python bench/jinja_attacks.py [--limit-s 60]

Each attack runs in a child process (killed after --limit-s) so a render that cannot be stopped
is reported as such instead of hanging this script.  Prints one line per attack: outcome, wall
seconds, peak resident MB of the child.  A baseline (a small legitimate render) is measured in
the same run, so the figures compare on the machine at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = {
    "baseline": ("Hello {{ name }}{% for i in range(50) %} {{ i }}{% endfor %}", "'x'"),
    "wordwrap": ("{{ x|wordwrap(1)|length }}", "'word ' * 600_000"),
    "concat": ("{% set a = x %}" + "{% set a = a ~ a %}" * 10 + "{{ a|length }}",
               "'a' * 2_000_000"),
    "join": ("{{ (['a' * 999999] * 2000)|join|length }}", "'x'"),
    # the same under the 1,000,000-character value cap (so the Jinja guards, not the value cap, refuse)
    "wordwrap<": ("{{ x|wordwrap(1)|length }}", "'word ' * 180_000"),
    "concat<": ("{% set a = x %}" + "{% set a = a ~ a %}" * 10 + "{{ a|length }}", "'a' * 600_000"),
}
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from lib.errors import WorkbenchError
from lib.prompts import render_messages
template, value = sys.argv[2], eval(sys.argv[3])
t = time.perf_counter()
try:
    out = render_messages([{"role": "user", "content": template}], {"x": value, "name": "n"}, "jinja2")
    outcome = "rendered " + out[0]["content"][:30]
except WorkbenchError as exc:
    outcome = "refused: " + str(exc)[:90]
secs = time.perf_counter() - t
print(json.dumps({"outcome": outcome, "s": secs, "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit-s", type=float, default=60.0)
    limit = ap.parse_args().limit_s
    for name, (template, value) in ATTACKS.items():
        t = time.perf_counter()
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), template, value], capture_output=True,
                                 text=True, timeout=limit, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else json.dumps(
                {"outcome": "crashed: " + out.stderr.strip()[-120:], "s": time.perf_counter() - t, "mb": None})
        except subprocess.TimeoutExpired:
            line = json.dumps({"outcome": f"still running after {limit:g} s (killed)", "s": limit, "mb": None})
        r = json.loads(line)
        mb = "?" if r["mb"] is None else f"{r['mb']:.0f}"
        print(f"{name:9s} {r['s']:7.2f} s  peak {mb:>5s} MB  {r['outcome']}")


if __name__ == "__main__":
    main()
