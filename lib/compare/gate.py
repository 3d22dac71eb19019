"""The CI gate of a batch job: pass rate over scored items, an error budget, and a baseline verdict.

`check_gate()` reads a finished job and says whether it passes:

- `fail_under`: the pass rate over *scored* items of the candidate versions must be >= this rate
  (no scored item at all fails: an unknown rate never passes a gate);
- `max_errors`: at most this many error/incomplete items (all versions, the baseline included);
- `baseline_id`: a version that ran in the same job on the same rows; per candidate version x model
  the paired verdict of `verdicts.verdict()` must not say "worse" (95% confidence).

The CLI maps the result to exit codes (0 passed, 100 gate failed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from lib.errors import NotFoundError, ValidationError
from lib.models import BatchItem, BatchJob, Prompt, PromptVersion
from lib.prompts import version_ref

from .verdicts import Side, pair_cases, verdict


@dataclass
class GateResult:
    """Whether the job passed its gate, why not, and the numbers it was judged on."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    scored: int = 0
    passed_items: int = 0
    pass_rate: float | None = None
    errors: int = 0
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what `batch run --json` prints under "gate")."""
        return {"passed": self.passed, "reasons": list(self.reasons), "scored": self.scored,
                "passed_items": self.passed_items, "pass_rate": self.pass_rate, "errors": self.errors,
                "verdicts": list(self.verdicts)}


def parse_rate(text: str | float | None) -> float | None:
    """'0.9', '90%' or 0.9 -> 0.9; ValidationError unless 0..1 (or 0%..100%)."""
    if text is None:
        return None
    raw = str(text).strip()
    try:
        rate = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValidationError(f"--fail-under {text!r}: expected a rate like 0.9 or 90%") from None
    if not 0.0 <= rate <= 1.0:
        raise ValidationError(f"--fail-under {text!r}: the rate must be between 0 and 1 (or 0% and 100%)")
    return rate


def _label(session: Session, version_id: int) -> str:
    row = session.execute(select(Prompt.name, PromptVersion.number).join(Prompt, Prompt.id == PromptVersion.prompt_id)
                          .where(PromptVersion.id == version_id)).first()
    return version_ref(row[0], row[1]) if row else str(version_id)


def check_gate(*, session: Session, job_id: int, fail_under: float | None = None, max_errors: int | None = None,
               baseline_id: int | None = None, seed: int = 0) -> GateResult:
    """Judge a job against its gate (rate over scored candidate items, error budget, baseline verdict)."""
    job = session.get(BatchJob, int(job_id))
    if job is None:
        raise NotFoundError(f"unknown batch job {job_id}")
    if max_errors is not None and max_errors < 0:
        raise ValidationError(f"--max-errors {max_errors}: must be 0 or more")
    candidates = [v for v in job.version_ids if v != baseline_id]
    if baseline_id is not None and (baseline_id not in job.version_ids or not candidates):
        raise ValidationError("the baseline must be one of the job's versions, beside at least one other")
    scored, passed = session.execute(
        select(func.count(BatchItem.passed), func.sum(case((BatchItem.passed.is_(True), 1), else_=0)))
        .where(BatchItem.job_id == job.id, BatchItem.version_id.in_(candidates))).one()
    errors = session.execute(select(func.count()).select_from(BatchItem).where(
        BatchItem.job_id == job.id, BatchItem.state.in_(("error", "incomplete")))).scalar() or 0
    res = GateResult(passed=True, scored=int(scored or 0), passed_items=int(passed or 0), errors=int(errors))
    res.pass_rate = res.passed_items / res.scored if res.scored else None
    if fail_under is not None:
        if res.pass_rate is None:
            res.reasons.append("no item was scored, so the pass rate is unknown (add --eval or __expected)")
        elif res.pass_rate < fail_under:
            res.reasons.append(f"pass rate {res.pass_rate:.1%} ({res.passed_items}/{res.scored} scored) "
                               f"is under {fail_under:.1%}")
    if max_errors is not None and res.errors > max_errors:
        res.reasons.append(f"{res.errors} item(s) failed to run (error or incomplete), more than {max_errors}")
    if baseline_id is not None:
        base_name = _label(session, baseline_id)
        for vid in candidates:
            name = _label(session, vid)
            for model in job.models:
                cases = pair_cases(session, job.dataset_id, Side(baseline_id, model), Side(vid, model), job_id=job.id)
                v = verdict(cases, f"{base_name} on {model}", f"{name} on {model}", seed=seed)
                res.verdicts.append({"baseline": base_name, "version": name, "model": model,
                                     "outcome": v.outcome, "sentence": v.sentence, "scored": v.scored})
                if v.outcome == "worse":
                    res.reasons.append(v.sentence)
    res.passed = not res.reasons
    return res
