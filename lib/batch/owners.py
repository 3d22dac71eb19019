"""Lease owners: which process holds a batch item, and whether that process is gone.

An owner id is ``host:pid:start:random``, where ``start`` is the process start time from
``/proc/<pid>/stat`` (clock ticks since boot), so a pid reused by a new process is not mistaken
for the worker that claimed the items.  A claim reclaims the items of an owner on THIS host whose
process no longer exists (or is a zombie, or is another process with the same pid) at once,
instead of waiting out its lease.  Owners on other hosts, and ids in another shape (provider
batches, older workers), are judged by their lease alone.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

_HOST = socket.gethostname()[:40]


def start_ticks(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot), or None when it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):  # a zombie or dead task has exited
        return "exited"
    return fields[19]


def new_owner() -> str:
    """A lease owner id unique to this worker: host, pid, process start time and a random suffix."""
    pid = os.getpid()
    return f"{_HOST}:{pid}:{start_ticks(pid) or 0}:{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_dead_local(owner: str | None) -> bool:
    """True if `owner` names a process on this host that is no longer running."""
    parts = (owner or "").split(":")
    if len(parts) != 4 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    pid, start = int(parts[1]), parts[2]
    if pid == os.getpid():
        return False
    now = start_ticks(pid)
    if now is None:
        if Path("/proc/self/stat").exists():  # /proc works here, so that pid has no process
            return True
        return not _alive(pid)
    return now == "exited" or (start != "0" and now != start)
