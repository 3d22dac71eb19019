"""One-line descriptions of batch jobs for pickers: when, which versions, models and evaluators, status."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from lib.models import BatchJob

from .reports import version_labels

SHOWN_PER_LIST = 3  # beyond this a list reads "a, b, c +2 more"


def _short(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    head = ", ".join(items[:SHOWN_PER_LIST])
    return head + (f" +{len(items) - SHOWN_PER_LIST} more" if len(items) > SHOWN_PER_LIST else "")


def _evaluator_names(specs: Sequence) -> list[str]:
    names = []
    for s in specs or []:
        name = (("not-" if s.get("negate") else "") + str(s.get("type") or "?")) if isinstance(s, dict) else str(s)
        if name not in names:
            names.append(name)
    return names


def job_titles(*, session: Session, jobs: Sequence[BatchJob]) -> dict[int, str]:
    """Job id -> '#7 nightly · 2026-12-01 14:05 UTC · greet:1, greet:2 · echo/echo · contains, judge · done'."""
    vids = sorted({int(v) for j in jobs for v in (j.version_ids or [])})
    refs = version_labels(session=session, version_ids=vids) if vids else {}
    out: dict[int, str] = {}
    for j in jobs:
        evaluators = _evaluator_names(j.evaluators)
        parts = [f"#{j.id} {j.name}".strip(),
                 j.created_at.strftime("%Y-%m-%d %H:%M UTC") if j.created_at else "",
                 _short([refs.get(int(v), f"version {v}") for v in j.version_ids or []]),
                 _short([str(m) for m in j.models or []]),
                 _short(evaluators) if evaluators else "no job-wide evaluators",
                 j.status]
        out[j.id] = " · ".join(p for p in parts if p)
    return out
