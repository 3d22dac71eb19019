"""Two processes saving versions of the same prompt at once both succeed with distinct numbers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlmodel import Session, select

from lib import prompts
from lib.models import PromptVersion

SCRIPT = r"""
import sys, time
from lib import db, prompts
tag, n, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
with db.session_scope() as s:
    for i in range(n):
        prompts.save_version(session=s, name="shared", messages=[{"role": "user", "content": f"{tag} {i}"}])
print("ok")
"""


def test_two_processes_save_versions_at_once(engine):
    with Session(engine) as s:
        prompts.create_prompt(session=s, name="shared", messages=[{"role": "user", "content": "v1"}])
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    start = time.time() + 2
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, tag, "15", str(start)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    with Session(engine) as s:
        rows = s.exec(select(PromptVersion).order_by(PromptVersion.number)).all()
    assert [r.number for r in rows] == list(range(1, 32))
    contents = sorted(r.messages[0]["content"] for r in rows[1:])
    assert contents == sorted([f"a {i}" for i in range(15)] + [f"b {i}" for i in range(15)])
