"""Side-by-side comparison: N columns run concurrently, polled by the page as they fill.

A `CompareJob` runs every column at once in a background thread with its own event loop,
through the client's async `stream()`.  The Streamlit script thread only polls
`job.snapshot()` (text so far, done, RunResult per column), so a widget click that reruns
the script never kills the calls.  A `Comparison` row is the permalink: its columns, shared
variables, the runs it made and the blind order.  Votes are pairwise `ArenaVote` rows.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from lib.client import get_client
from lib.db import session_scope
from lib.errors import NotFoundError, ValidationError
from lib.identity import RUN, Identity, require
from lib.models import Comparison, Prompt, PromptVersion, Run
from lib.prompts import version_ref

MIN_COLUMNS, MAX_COLUMNS = 2, 6
DEFAULT_DEADLINE_S = 180.0


@dataclass
class ColumnSpec:
    """One column: a prompt version, a model ('endpoint/model') and parameter overrides."""

    version_id: int
    model: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored on the Comparison row."""
        return {"version_id": self.version_id, "model": self.model, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSpec:
        """Inverse of to_dict."""
        return cls(version_id=int(d["version_id"]), model=str(d["model"]), params=dict(d.get("params") or {}))


@dataclass
class ColumnState:
    """What the page shows for one column: text so far, done, the RunResult (or an unexpected error)."""

    index: int
    text: str = ""
    done: bool = False
    result: Any = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None


def validate_columns(columns: list[ColumnSpec]) -> list[ColumnSpec]:
    """2 to 6 columns, each with a version and an 'endpoint/model'."""
    if not MIN_COLUMNS <= len(columns) <= MAX_COLUMNS:
        raise ValidationError(f"a comparison has {MIN_COLUMNS} to {MAX_COLUMNS} columns, got {len(columns)}")
    for i, c in enumerate(columns, 1):
        if not c.version_id:
            raise ValidationError(f"column {i}: pick a prompt version")
        if not c.model or "/" not in c.model:
            raise ValidationError(f"column {i}: pick a model (ENDPOINT/MODEL), got {c.model!r}")
    return columns


def create_comparison(*, session: Session, actor: Identity, columns: list[ColumnSpec], variables: dict[str, Any],
                      blind: bool = False, rng: random.Random | None = None) -> Comparison:
    """Save a Comparison row (the permalink); blind mode stores a shuffled display order."""
    require(actor, RUN)
    validate_columns(columns)
    for c in columns:
        if session.get(PromptVersion, c.version_id) is None:
            raise NotFoundError(f"unknown prompt version id {c.version_id}")
    order = list(range(len(columns)))
    if blind:
        r = rng or random.SystemRandom()
        while order == sorted(order) and len(order) > 1:  # a shuffle that changes nothing would reveal names
            r.shuffle(order)
    row = Comparison(id=secrets.token_hex(6), columns=[c.to_dict() for c in columns], variables=dict(variables),
                     run_ids=[], blind=blind, order=order)
    session.add(row)
    session.flush()
    return row


def get_comparison(*, session: Session, compare_id: str) -> Comparison:
    """The Comparison with this id."""
    row = session.get(Comparison, (compare_id or "").strip())
    if row is None:
        raise NotFoundError(f"unknown comparison {compare_id!r}")
    return row


def runs_of(*, session: Session, comparison: Comparison) -> list[Run | None]:
    """The run of each column, in column order (None where a column has no run yet)."""
    ids = list(comparison.run_ids or [])
    ids += [None] * (len(comparison.columns) - len(ids))
    known = [i for i in ids if i]
    rows = {r.id: r for r in session.exec(select(Run).where(Run.id.in_(known)))} if known else {}
    out: list[Run | None] = [rows.get(i) if i else None for i in ids]
    if all(out):
        return out
    # Still running, or run ids not saved (the process stopped): match the rest by compare_id, in order.
    used = {r.id for r in out if r is not None}
    found = list(session.exec(select(Run).where(Run.compare_id == comparison.id).order_by(Run.id).limit(50)))
    for n, c in enumerate(comparison.columns):
        if out[n] is not None:
            continue
        params = c.get("params") or {}
        out[n] = next((r for r in found if r.id not in used and r.version_id == c["version_id"]
                       and f"{r.endpoint}/{r.model}" == c["model"]
                       and all((r.params or {}).get(k) == v for k, v in params.items())), None)
        if out[n] is not None:
            used.add(out[n].id)
    return out


def _event_text(ev: Any) -> str:
    for attr in ("delta", "text"):
        val = getattr(ev, attr, None)
        if isinstance(val, str):
            return val
    return ""


def _event_result(ev: Any) -> Any:
    return getattr(ev, "result", None)


class CompareJob:
    """Runs the columns of one comparison concurrently in a background thread; poll with snapshot()."""

    def __init__(self, *, engine: Any, actor: Identity, comparison: Comparison, client: Any = None,
                 deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self.actor = require(actor, RUN)
        self.engine = engine
        self.compare_id = comparison.id
        self.columns = [ColumnSpec.from_dict(c) for c in comparison.columns]
        self.variables = dict(comparison.variables or {})
        self.blind = bool(comparison.blind)
        self.order = list(comparison.order or range(len(self.columns)))
        self.deadline_s = deadline_s
        self._client = client
        self._lock = threading.Lock()
        self._states = [ColumnState(index=i) for i in range(len(self.columns))]
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self.started_at: float | None = None
        self.finished_at: float | None = None

    # ---- control
    def start(self) -> CompareJob:
        """Start every column at once (returns immediately)."""
        if self._thread is None:
            self.started_at = time.monotonic()
            self._thread = threading.Thread(target=self._thread_main, name=f"compare-{self.compare_id}",
                                            daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds for every column; True when all are done."""
        return self._finished.wait(timeout)

    @property
    def done(self) -> bool:
        """True once every column has finished and the run ids are saved."""
        return self._finished.is_set()

    def snapshot(self) -> list[ColumnState]:
        """A copy of every column's state, in column order (safe to read from the script thread)."""
        with self._lock:
            return [ColumnState(**vars(s)) for s in self._states]

    @property
    def wall_s(self) -> float | None:
        """Seconds from start to the last column finishing (None while running)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    # ---- background thread
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self.finished_at = time.monotonic()
            self._save_run_ids()
            self._finished.set()

    async def _main(self) -> None:
        client = self._client or get_client(self.engine)
        with session_scope(self.engine) as s:
            versions = {}
            for c in self.columns:
                v = s.get(PromptVersion, c.version_id)
                if v is not None:
                    s.expunge(v)
                versions[c.version_id] = v
        await asyncio.gather(*(self._run_column(client, i, versions.get(c.version_id))
                               for i, c in enumerate(self.columns)))

    async def _run_column(self, client: Any, i: int, version: Any) -> None:
        col = self.columns[i]
        with self._lock:
            self._states[i].started_at = time.monotonic()
        try:
            if version is None:
                raise NotFoundError(f"prompt version id {col.version_id} no longer exists")
            async for ev in client.stream(actor=self.actor, model=col.model, version=version, variables=self.variables,
                                          params=col.params, source="compare", compare_id=self.compare_id,
                                          deadline_s=self.deadline_s):
                result = _event_result(ev)
                with self._lock:
                    if result is not None:
                        self._states[i].result = result
                        if getattr(result, "text", None) is not None:
                            self._states[i].text = result.text
                    else:
                        self._states[i].text += _event_text(ev)
        except Exception as exc:  # noqa: BLE001 - a column's failure must never kill the others
            with self._lock:
                self._states[i].error = str(exc) or type(exc).__name__
        finally:
            with self._lock:
                self._states[i].done = True
                self._states[i].finished_at = time.monotonic()

    def _save_run_ids(self) -> None:
        ids = [getattr(s.result, "run_id", None) for s in self._states]
        try:
            with session_scope(self.engine) as s:
                row = s.get(Comparison, self.compare_id)
                if row is not None:
                    row.run_ids = ids
                    s.add(row)  # the thread owns this session: session_scope commits it
        except Exception as exc:  # noqa: BLE001 - runs_of() falls back to compare_id
            with self._lock:
                for st in self._states:
                    st.error = st.error or f"could not save the comparison's run ids: {exc}"


# Jobs live here, keyed by their comparison id, so a page keeps only that id in its session state (never a
# thread).  The id is the permalink's, so holding it already grants seeing the comparison.  Bounded: the
# oldest finished jobs go first; a dropped job's answers are still in the database.
JOBS_CAP = 256
_jobs: dict[str, CompareJob] = {}
_jobs_lock = threading.Lock()


def _register(job: CompareJob) -> None:
    with _jobs_lock:
        _jobs[job.compare_id] = job
        if len(_jobs) > JOBS_CAP:
            for cid in [c for c, j in _jobs.items() if j.done][: len(_jobs) - JOBS_CAP]:
                del _jobs[cid]


def running_job(compare_id: str | None) -> CompareJob | None:
    """The live job of a comparison started in this process (None when unknown or dropped)."""
    if not compare_id:
        return None
    with _jobs_lock:
        return _jobs.get(compare_id)


def start(*, engine: Any, actor: Identity, columns: list[ColumnSpec], variables: dict[str, Any],
          blind: bool = False, client: Any = None, deadline_s: float = DEFAULT_DEADLINE_S) -> CompareJob:
    """Create the Comparison row and start running its columns as `actor`; returns the job (also kept by its id)."""
    with session_scope(engine) as s:
        row = create_comparison(session=s, actor=actor, columns=columns, variables=variables, blind=blind)
        s.expunge(row)
    job = CompareJob(engine=engine, actor=actor, comparison=row, client=client, deadline_s=deadline_s)
    _register(job)
    return job.start()


def column_labels(*, session: Session, comparison: Comparison) -> list[str]:
    """A readable name per column: 'prompt:N · endpoint/model · temperature=..'."""
    out = []
    for c in comparison.columns:
        v = session.get(PromptVersion, c["version_id"])
        p = session.get(Prompt, v.prompt_id) if v is not None else None
        head = version_ref(p.name, v.number) if p is not None and v is not None else f"version #{c['version_id']}"
        params = ", ".join(f"{k}={val}" for k, val in sorted((c.get("params") or {}).items()))
        out.append(f"{head} · {c['model']}" + (f" · {params}" if params else ""))
    return out


def blind_name(position: int) -> str:
    """'Answer A', 'Answer B', ... for a display position."""
    return f"Answer {chr(ord('A') + position)}"

