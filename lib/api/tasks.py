"""The seed orchestrator's task API, on the workbench: a task is one model call recorded as a Run (source `api`).

`execute` turns `{prompt, task_type, files, service, max_tokens, temperature}` into chat messages (the task
type's system message, the files as context, the prompt) and calls the one executor; history, status and
metrics are read back from Run rows, so History and Metrics show every task.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lib.client import get_endpoint, list_endpoints
from lib.credentials import has_secret
from lib.errors import NotFoundError, ValidationError
from lib.identity import Identity
from lib.models import Run
from lib.prompts import get_preset

from .gateway_calls import failure, server_client

# task type -> (preset for its sampling params, system message); unknown types use "general"
TASK_TYPES: dict[str, tuple[str | None, str]] = {
    "question_answer": ("qa", "You answer questions accurately and concisely. If you do not know, say so."),
    "code_generation": ("codegen", "You are a senior engineer. Reply with one code block and a one-line "
                                   "explanation. Follow the language's conventions."),
    "code_review": ("code_review", "You review code. List concrete problems (bugs, security, clarity) as bullet "
                                   "points with the line they refer to, most severe first."),
    "summarization": ("summarise", "You write faithful summaries. Never add facts that are not in the text."),
    "general": (None, "You are a helpful assistant."),
}
DEFAULT_SERVICE = os.environ.get("WORKBENCH_TASK_SERVICE", "echo/echo")
MAX_FILES = 50
MAX_FILE_CHARS = 200_000
_running = 0
_running_lock = threading.Lock()


def _model_of(session: Session, service: str | None) -> str:
    """`endpoint/model` for a service given as an endpoint or endpoint/model (default: the task service)."""
    service = (service or DEFAULT_SERVICE).strip()
    if "/" in service:
        return service
    ep = get_endpoint(session=session, name=service)
    models = list(ep.models or [])
    if not models:
        raise ValidationError(f"service {service!r} lists no models: give it as {service}/MODEL")
    return f"{service}/{models[0]}"


def task_messages(prompt: str, task_type: str, files: dict[str, str] | None) -> list[dict[str, str]]:
    """The system message of the task type, then the files as context and the prompt in one user message."""
    _, system = TASK_TYPES.get(task_type, TASK_TYPES["general"])
    if len(files or {}) > MAX_FILES:
        raise ValidationError(f"files: at most {MAX_FILES} files per task")
    parts = []
    for path, content in (files or {}).items():
        if len(content) > MAX_FILE_CHARS:
            raise ValidationError(f"files.{path}: over {MAX_FILE_CHARS:,} characters")
        parts.append(f"File: {path}\n```\n{content}\n```")
    user = "\n\n".join([*parts, prompt]) if parts else prompt
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def task_call(*, engine: Engine, actor: Identity, prompt: str, task_type: str, files: dict[str, str] | None,
              service: str | None, max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
    """Keyword arguments for the executor for one task."""
    if not prompt.strip():
        raise ValidationError("prompt: must not be empty")
    preset_key, _ = TASK_TYPES.get(task_type, TASK_TYPES["general"])
    params: dict[str, Any] = dict(get_preset(preset_key).params) if preset_key else {}
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if temperature is not None:
        params["temperature"] = temperature
    with Session(engine) as s:
        model = _model_of(s, service)
    return {"model": model, "messages": task_messages(prompt, task_type, files), "params": params,
            "variables": {"prompt": prompt, "task_type": task_type, "files": sorted(files or {})},
            "source": "api", "actor": actor}


class _Running:
    """Counts tasks in flight in this process (what `tasks.running` reports)."""

    def __enter__(self) -> None:
        global _running
        with _running_lock:
            _running += 1

    def __exit__(self, *exc: object) -> None:
        global _running
        with _running_lock:
            _running -= 1


async def execute(*, engine: Engine, kw: dict[str, Any]) -> dict[str, Any]:
    """Run one task: `{task_id, service_used, result, execution_time}` (seconds); a failed call is an ApiError."""
    t0 = time.perf_counter()
    with _Running():
        result = await server_client(engine).generate(**kw)
    if not result.ok:
        raise failure(result)
    return {"task_id": str(result.run_id), "service_used": kw["model"], "result": result.text,
            "execution_time": round(time.perf_counter() - t0, 4), "status": "completed"}


async def execute_stream(*, engine: Engine, kw: dict[str, Any], agen: Any, first: Any) -> AsyncIterator[dict]:
    """Newline-delimited JSON events: `content` per piece, then `done` (or `error`)."""
    t0 = time.perf_counter()
    ev = first
    with _Running():
        try:
            while True:
                if ev.type == "delta" and ev.text:
                    yield {"type": "content", "data": ev.text}
                elif ev.type == "done":
                    r = ev.result
                    if r is None or not r.ok:
                        yield {"type": "error", "error": (r.error_message if r else None) or "the call failed",
                               "task_id": str(r.run_id) if r else None}
                    else:
                        yield {"type": "done", "execution_time": round(time.perf_counter() - t0, 4),
                               "task_id": str(r.run_id), "service_used": kw["model"]}
                    return
                ev = await agen.__anext__()
        except StopAsyncIteration:
            yield {"type": "error", "error": "the stream ended before its last event"}
        finally:
            await agen.aclose()


def task_of(run: Run) -> dict[str, Any]:
    """A task as the orchestrator's API shows it."""
    v = run.variables or {}
    status = "completed" if run.status == "ok" else "failed"
    return {"task_id": str(run.id), "prompt": v.get("prompt", ""), "task_type": v.get("task_type", "general"),
            "files": v.get("files", []), "service_used": f"{run.endpoint}/{run.model}", "result": run.output,
            "status": status, "error": run.error_message, "created_at": run.created_at.isoformat(),
            "execution_time": round(run.latency_ms / 1000, 4) if run.latency_ms is not None else None,
            "tokens": {"prompt": run.prompt_tokens, "completion": run.completion_tokens},
            "cost_usd": run.cost_usd}


def get_task(*, session: Session, task_id: str) -> dict[str, Any]:
    """One task by id."""
    run = session.get(Run, int(task_id)) if task_id.isdigit() else None
    if run is None or run.source != "api":
        raise NotFoundError(f"no task with id {task_id!r}")
    return task_of(run)


def history(*, session: Session, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """Tasks newest first: `{tasks, total, limit, offset}`."""
    total = session.exec(select(func.count()).select_from(Run).where(Run.source == "api")).one()
    rows = session.exec(select(Run).where(Run.source == "api").order_by(Run.id.desc()).offset(offset).limit(limit))
    return {"tasks": [task_of(r) for r in rows], "total": int(total), "limit": limit, "offset": offset}


def services(*, session: Session) -> dict[str, Any]:
    """Every endpoint: name, kind, models, and whether it can be called (its key is set)."""
    out = []
    for ep in list_endpoints(session=session):
        ready = ep.kind == "echo" or not ep.api_key_env or has_secret(ep.api_key_env)
        out.append({"name": ep.name, "kind": ep.kind, "healthy": bool(ready), "models": list(ep.models or []),
                    "rpm": ep.rpm, "max_concurrency": ep.max_concurrency})
    return {"services": out, "total": len(out)}


def _system() -> dict[str, float | None]:
    """CPU (1-minute load over cores) and memory use in percent; None where the OS does not say."""
    cpu = None
    try:
        cpu = round(min(100.0, os.getloadavg()[0] / (os.cpu_count() or 1) * 100), 1)
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in fh if ":" in line)}
        mem = round(100.0 * (1 - info["MemAvailable"] / info["MemTotal"]), 1)
    except (OSError, KeyError, ValueError, ZeroDivisionError):
        pass
    return {"cpu_percent": cpu, "memory_percent": mem}


def monitoring(*, session: Session) -> dict[str, Any]:
    """Services healthy/total, tasks running/completed/failed, task latency, CPU and memory."""
    svc = services(session=session)["services"]
    counts = dict(session.exec(select(Run.status, func.count()).where(Run.source == "api").group_by(Run.status)).all())
    lats = sorted(x for x in session.exec(select(Run.latency_ms).where(Run.source == "api", Run.latency_ms.is_not(None))
                                          .order_by(Run.id.desc()).limit(5000)).all())

    def pct(q: float) -> float | None:
        return round(lats[min(len(lats) - 1, round(q * (len(lats) - 1)))], 2) if lats else None

    return {"services": {"healthy": sum(1 for s in svc if s["healthy"]), "total": len(svc)},
            "tasks": {"running": _running, "completed": int(counts.get("ok", 0)),
                      "failed": int(sum(v for k, v in counts.items() if k != "ok"))},
            "latency": {"p50_ms": pct(0.5), "p95_ms": pct(0.95),
                        "mean_ms": round(sum(lats) / len(lats), 2) if lats else None, "sample": len(lats)},
            "system": _system()}
