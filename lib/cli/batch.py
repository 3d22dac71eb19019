"""`batch ...` commands and the top-level `worker` command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lib import batch, datasets, db, prompts
from lib.batch import export_job, pass_rates, run_job_foreground, run_worker, write_junit
from lib.compare import check_gate, parse_rate
from lib.errors import ValidationError
from lib.evals import parse_spec
from lib.identity import cli_operator

from .common import JsonOpt, emit, fail, handle_errors, parse_pairs, parse_params


def _status_text(p: dict) -> str:
    c = p["counts"]
    rate = f"{p['pass_rate']:.1%}" if p["pass_rate"] is not None else "-"
    budget = f" of ${p['budget_usd']:.4f}" if p["budget_usd"] is not None else ""
    lines = [f"job {p['job_id']} ({p['name']}): {p['status']}" + (f" - {p['pause_reason']}" if p["pause_reason"]
                                                                    else ""),
             f"items: {p['total']} total, {c['done']} done, {c['error']} error, {c['incomplete']} incomplete, "
             f"{c['running']} running, {c['pending']} pending",
             f"spend: ${p['spent_usd']:.4f}{budget}   pass rate: {rate} ({p['passed']}/{p['scored']} scored)"]
    return "\n".join(lines)


def _progress(job_id: int) -> dict:
    with db.session_scope() as s:
        return batch.progress(session=s, job_id=job_id)


GATE_FAILED = 100  # as promptfoo: the evaluation ran but failed its gate


def _run_foreground(job_id: int, as_json: bool, gate: dict | None = None) -> None:
    """Run the job to its end; exit 1 if it did not finish, 100 if it finished but failed its gate."""
    p = _progress(job_id)
    todo = p["counts"]["pending"] + p["counts"]["running"]
    if as_json or not sys.stderr.isatty():
        status = run_job_foreground(job_id)
    else:
        with typer.progressbar(length=todo, label=f"job {job_id}", file=sys.stderr) as bar:
            status = run_job_foreground(job_id, on_persist=bar.update)
    p = _progress(job_id)
    result = None
    if gate is not None and status == "done":
        with db.session_scope() as s:
            result = check_gate(session=s, job_id=job_id, **gate)
        p["gate"] = result.to_dict()
    emit(p, as_json, lambda: _status_text(p) + (_gate_text(p["gate"]) if "gate" in p else ""))
    if status not in ("done",):
        fail(f"job {job_id} is {p['status']}" + (f": {p['pause_reason']}" if p["pause_reason"] else ""), 1)
    c = p["counts"]
    if gate is None and c["error"] and not c["done"]:  # finished, but nothing succeeded: not a success
        fail(f"job {job_id} finished with every item failed ({c['error']} errors)", 1)
    if result is not None and not result.passed:
        fail(f"job {job_id} failed its gate: " + "; ".join(result.reasons), GATE_FAILED)


def _gate_text(g: dict) -> str:
    lines = [f"gate: {'passed' if g['passed'] else 'FAILED'}"]
    lines += [f"  baseline {v['baseline']} vs {v['version']} on {v['model']}: {v['sentence']}" for v in g["verdicts"]]
    lines += [f"  - {r}" for r in g["reasons"]]
    return "\n" + "\n".join(lines)


def _gate(fail_under: str | None, max_errors: int | None, baseline_id: int | None) -> dict | None:
    if fail_under is None and max_errors is None and baseline_id is None:
        return None
    return {"fail_under": parse_rate(fail_under), "max_errors": max_errors, "baseline_id": baseline_id}


def _dataset_id(s, ref: str) -> int:
    path = Path(ref)
    if path.is_file():
        ds = datasets.import_dataset(actor=cli_operator(), session=s, data=path.read_bytes(), filename=path.name)
        s.commit()
        return ds.id
    return datasets.get_dataset(session=s, ref=ref).id


def _apply(action, job: int, as_json: bool) -> None:
    """Run a job control (pause, cancel) and print the job's progress after it."""
    with db.session_scope() as s:
        action(session=s, actor=cli_operator(), job_id=job)
        p = batch.progress(session=s, job_id=job)
    emit(p, as_json, lambda: _status_text(p))


def register(app: typer.Typer) -> None:
    """Add the `batch` group and the top-level `worker` command."""
    sub = typer.Typer(no_args_is_help=True, help="Batch jobs: run a dataset through prompts x models.")
    app.add_typer(sub, name="batch")

    @sub.command("run")
    @handle_errors
    def run(dataset: str = typer.Option(..., "--dataset", help="A file to import, or a stored dataset's name/id."),
            prompt: list[str] = typer.Option(..., "--prompt", help="NAME[:V|@LABEL]; repeat for several."),
            model: list[str] = typer.Option(..., "--model", help="ENDPOINT/MODEL; repeat for several."),
            map_: list[str] | None = typer.Option(None, "--map", help="var=column (others matched by name)."),
            eval_: list[str] | None = typer.Option(None, "--eval", help="Evaluator spec, e.g. contains:foo."),
            concurrency: int = typer.Option(8, "--concurrency", min=1, max=1024),
            budget: float | None = typer.Option(None, "--budget", help="Stop once spend reaches USD."),
            repeats: int = typer.Option(1, "--repeats", min=1, max=100),
            param: list[str] | None = typer.Option(None, "--param", help="Sampling param k=v."),
            rpm: int | None = typer.Option(None, "--rpm", min=1),
            tpm: int | None = typer.Option(None, "--tpm", min=1),
            mode: str = typer.Option("live", "--mode", help="live, or provider (the provider's batch API)."),
            detach: bool = typer.Option(False, "--detach", help="Only create the job (a worker runs it)."),
            judge_model: str | None = typer.Option(None, "--judge-model", help="ENDPOINT/MODEL for judge / "
                                                   "llm-rubric evaluators that name no model."),
            fail_under: str | None = typer.Option(None, "--fail-under",
                                                  help="Gate: pass rate over scored items, e.g. 0.9 or 90%."),
            max_errors: int | None = typer.Option(None, "--max-errors", min=0,
                                                  help="Gate: at most N items that failed to run."),
            baseline: str | None = typer.Option(None, "--baseline", help="Gate: NAME:VERSION or NAME@LABEL run on "
                                                "the same rows; fail if a version is worse (95% confidence)."),
            as_json: bool = JsonOpt) -> None:
        """Create a job and run it to its end (exit 0 passed, 100 gate failed, 1 not finished, 2 bad input)."""
        specs = [parse_spec(e, judge_default=bool(judge_model)).to_dict() for e in eval_ or []]
        gate = _gate(fail_under, max_errors, None)
        if detach and (gate is not None or baseline):
            raise ValidationError("--fail-under, --max-errors and --baseline judge a finished job: drop --detach "
                                  "(or run `batch gate JOB` once a worker finished it)")
        with db.session_scope() as s:
            ds_id = _dataset_id(s, dataset)
            vids = [prompts.resolve(session=s, ref=r).id for r in prompt]
            if baseline:
                base_id = prompts.resolve(session=s, ref=baseline).id
                if base_id in vids and len(set(vids)) == 1:
                    raise ValidationError(f"--baseline {baseline!r} is the version under test; pick another")
                vids = [base_id] + [v for v in vids if v != base_id]
                gate = _gate(fail_under, max_errors, base_id)
            job = batch.submit(actor=cli_operator(), session=s, dataset_id=ds_id, version_ids=vids, models=model,
                               mapping=parse_pairs(map_, "--map"), evaluators=specs, params=parse_params(param),
                               repeats=repeats, concurrency=concurrency, rpm=rpm, tpm=tpm, budget_usd=budget,
                               mode=mode, judge_model=judge_model)
            head = {"job_id": job.id, "total_items": job.total_items}
        typer.echo(f'{{"job_id": {job.id}, "total_items": {job.total_items}}}' if as_json else
                   f"job {head['job_id']}: {head['total_items']} items")
        if not detach:
            _run_foreground(head["job_id"], as_json, gate)

    @sub.command("gate")
    @handle_errors
    def gate_cmd(job: int, fail_under: str | None = typer.Option(None, "--fail-under"),
                 max_errors: int | None = typer.Option(None, "--max-errors", min=0),
                 baseline: str | None = typer.Option(None, "--baseline", help="One of the job's versions."),
                 as_json: bool = JsonOpt) -> None:
        """Judge a finished job (exit 0 passed, 100 gate failed, 1 not finished)."""
        with db.session_scope() as s:
            base_id = prompts.resolve(session=s, ref=baseline).id if baseline else None
            p = batch.progress(session=s, job_id=job)
            if p["status"] != "done":
                fail(f"job {job} is {p['status']}; the gate judges a finished job", 1)
            result = check_gate(session=s, job_id=job, **(_gate(fail_under, max_errors, base_id) or {}))
        p["gate"] = result.to_dict()
        emit(p, as_json, lambda: _status_text(p) + _gate_text(p["gate"]))
        if not result.passed:
            fail(f"job {job} failed its gate: " + "; ".join(result.reasons), GATE_FAILED)

    @sub.command("list")
    @handle_errors
    def list_(as_json: bool = JsonOpt) -> None:
        """Jobs, newest first."""
        with db.session_scope() as s:
            rows = [{"id": j.id, "name": j.name, "status": j.status, "mode": j.mode, "total_items": j.total_items,
                     "spent_usd": j.spent_usd, "created_at": j.created_at} for j in batch.list_jobs(session=s)]
        emit(rows, as_json, lambda: "\n".join(
            f"{r['id']:>5}  {r['status']:<10} {r['total_items']:>7} items  ${r['spent_usd']:.4f}  {r['name']}"
            for r in rows) or "no jobs")

    @sub.command("status")
    @handle_errors
    def status(job: int, as_json: bool = JsonOpt) -> None:
        """Counts by state, spend and pass rate (per version x model in --json)."""
        with db.session_scope() as s:
            p = batch.progress(session=s, job_id=job)
            p["pass_rates"] = pass_rates(session=s, job_id=job)
        emit(p, as_json, lambda: _status_text(p) + "".join(
            f"\n  {r['version']} · {r['model']}: {r['done']}/{r['items']} done, pass rate "
            f"{'-' if r['pass_rate'] is None else format(r['pass_rate'], '.1%')}" for r in p["pass_rates"]))

    @sub.command("resume")
    @handle_errors
    def resume(job: int, budget: float | None = typer.Option(None, "--budget", help="A new budget in USD."),
               detach: bool = typer.Option(False, "--detach", help="Only mark it runnable (a worker runs it)."),
               as_json: bool = JsonOpt) -> None:
        """Resume a paused or stopped job where it stopped (finished items are never repeated)."""
        with db.session_scope() as s:
            batch.resume(actor=cli_operator(), session=s, job_id=job, budget_usd=budget)
        if detach:
            p = _progress(job)
            emit(p, as_json, lambda: _status_text(p))
        else:
            _run_foreground(job, as_json)

    @sub.command("cancel")
    @handle_errors
    def cancel(job: int, as_json: bool = JsonOpt) -> None:
        """Cancel a job (finished results stay)."""
        _apply(batch.cancel, job, as_json)

    @sub.command("pause")
    @handle_errors
    def pause(job: int, as_json: bool = JsonOpt) -> None:
        """Pause a job (items in flight finish)."""
        _apply(batch.pause, job, as_json)

    @sub.command("retry-failed")
    @handle_errors
    def retry_failed(job: int, detach: bool = typer.Option(False, "--detach"), as_json: bool = JsonOpt) -> None:
        """Re-run only the error and incomplete items."""
        with db.session_scope() as s:
            n = batch.retry_failed(actor=cli_operator(), session=s, job_id=job)
        if not as_json:
            typer.echo(f"{n} item(s) queued again")
        if detach or n == 0:
            p = _progress(job)
            emit(p, as_json, lambda: _status_text(p))
        else:
            _run_foreground(job, as_json)

    @sub.command("export")
    @handle_errors
    def export(job: int, fmt: str = typer.Option(..., "--format", help="csv, jsonl, parquet or junit"),
               out: Path = typer.Option(..., "-o", "--output", help="File to write."),
               as_json: bool = JsonOpt) -> None:
        """Write the job's results (spreadsheet formulas neutralised; junit: one testcase per row and repeat)."""
        if fmt not in ("csv", "jsonl", "parquet", "junit"):
            raise ValidationError(f"--format {fmt!r}: use csv, jsonl, parquet or junit")
        with db.session_scope() as s:
            batch.get_job(session=s, job_id=job)
            if fmt == "junit":
                n = write_junit(session=s, job_id=job, dest=out)
            else:
                n = export_job(session=s, job_id=job, dest=out, fmt=fmt)
        emit({"job_id": job, "rows": n, "format": fmt, "path": str(out)}, as_json,
             f"wrote {n} rows to {out}")

    @app.command("worker")
    @handle_errors
    def worker_cmd(once: bool = typer.Option(False, "--once", help="One pass over runnable jobs, then exit."),
                   poll: float = typer.Option(1.0, "--poll", help="Seconds between polls when idle.")) -> None:
        """Run batch jobs from the database until interrupted (several may share one PostgreSQL)."""
        n = run_worker(once=once, poll_s=poll)
        typer.echo(f"worker stopped after {n} job pass(es)")
