"""Every write function in lib refuses the wrong role with PermissionDeniedError and changes nothing.

One seeded workspace per backend (SQLite and PostgreSQL); each write path is tried with the
highest role that may NOT take it, then the whole database (every table, every row, the audit
log included) is compared with the snapshot taken before, inside the same session, so even an
uncommitted flush would show.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from lib import audit, batch, bootstrap, compare, datasets, prompts, runs, users
from lib.client import (
    add_endpoint,
    delete_endpoint,
    delete_override,
    ensure_defaults,
    get_client,
    set_override,
    update_endpoint,
)
from lib.compare import ColumnSpec
from lib.compare.live import create_comparison
from lib.datasets.store import delete_dataset
from lib.db import session_scope
from lib.errors import PermissionDeniedError
from lib.evals import evaluate
from lib.identity import WORKER, Identity, cli_operator, local_user
from lib.models import AuditEvent, Run
from tests.actors import ADMIN, EDITOR, VIEWER, person

CSV = b"question,answer\nwhat?,this\nwho?,me\n"
TOKEN_READ = Identity(kind="token", name="ro-bot", scopes=frozenset({"read"}))
TOKEN_WRITE = Identity(kind="token", name="ci", scopes=frozenset({"write"}))


def _seed(engine) -> dict:
    with session_scope(engine) as s:
        v1 = prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "{{q}}"}])
        v2, _ = prompts.save_version(actor=ADMIN, session=s, name="p",
                                     messages=[{"role": "user", "content": "2 {{q}}"}])
        prompts.set_label(actor=ADMIN, session=s, name="p", label="production", version=1)
        prompts.set_label(actor=ADMIN, session=s, name="p", label="production", version=2)
        prompts.set_label(actor=ADMIN, session=s, name="p", label="staging", version=1)
        prompts.set_label(actor=ADMIN, session=s, name="p", label="staging", version=2)
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=CSV, filename="d.csv", name="d")
        add_endpoint(actor=ADMIN, session=s, name="ep", kind="echo")
        set_override(actor=ADMIN, session=s, model="m", input_per_mtok=1.0, output_per_mtok=2.0)
        s.commit()
        job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v1.id, v2.id], models=["echo/echo"])
        ids = {"v1": v1.id, "v2": v2.id, "ds": ds.id, "job": job.id}
    r1 = get_client(engine).generate_sync(actor=ADMIN, model="echo/echo", messages=[{"role": "user", "content": "a"}])
    r2 = get_client(engine).generate_sync(actor=ADMIN, model="echo/echo", messages=[{"role": "user", "content": "b"}])
    ids.update(run1=r1.run_id, run2=r2.run_id)
    with session_scope(engine) as s:
        users.sign_in(session=s, email="first@example.com")  # the first person: admin
    return ids


def _snapshot(session: Session) -> dict:
    out = {}
    for table in SQLModel.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = json.dumps([list(r) for r in rows], default=str, sort_keys=True)
    return out


def _export(engine) -> str:
    with Session(engine) as s:
        return json.dumps(prompts.export_prompt(session=s, name="p"))


def _cases(engine, ids):
    """(name, role that is refused, call(session, actor)) for every write path."""
    msgs = [{"role": "user", "content": "new {{q}}"}]
    export = json.loads(_export(engine))
    export_no_labels = dict(export, labels={}, label_history=[])
    col = [ColumnSpec(ids["v1"], "echo/echo"), ColumnSpec(ids["v2"], "echo/echo")]
    return [
        ("create_prompt", VIEWER, lambda s, a: prompts.create_prompt(session=s, actor=a, name="n", messages=msgs)),
        ("save_version", VIEWER, lambda s, a: prompts.save_version(session=s, actor=a, name="p", messages=msgs)),
        ("update_prompt", VIEWER, lambda s, a: prompts.update_prompt(session=s, actor=a, name="p", description="x")),
        ("archive", VIEWER, lambda s, a: prompts.set_archived(session=s, actor=a, name="p", archived=True)),
        ("duplicate", VIEWER, lambda s, a: prompts.duplicate(session=s, actor=a, name="p", new_name="p2")),
        ("import_prompt", VIEWER, lambda s, a: prompts.import_prompt(session=s, actor=a, data=export_no_labels,
                                                                     name="p3")),
        ("import_prompt with production", EDITOR,
         lambda s, a: prompts.import_prompt(session=s, actor=a, data=export, name="p4")),
        ("create_from_preset", VIEWER, lambda s, a: prompts.create_from_preset(
            session=s, actor=a, key=prompts.list_presets()[0].key, name="pre")),
        ("set_label staging", VIEWER, lambda s, a: prompts.set_label(session=s, actor=a, name="p", label="staging",
                                                                     version=1)),
        ("set_label production", EDITOR, lambda s, a: prompts.set_label(session=s, actor=a, name="p",
                                                                        label="production", version=1)),
        ("remove_label production", EDITOR, lambda s, a: prompts.remove_label(session=s, actor=a, name="p",
                                                                              label="production")),
        ("remove_label staging", VIEWER, lambda s, a: prompts.remove_label(session=s, actor=a, name="p",
                                                                           label="staging")),
        ("rollback production", EDITOR, lambda s, a: prompts.rollback(session=s, actor=a, name="p",
                                                                      label="production")),
        ("rollback staging", VIEWER, lambda s, a: prompts.rollback(session=s, actor=a, name="p", label="staging")),
        ("import_dataset", VIEWER, lambda s, a: datasets.import_dataset(session=s, actor=a, data=b"x\n1\n",
                                                                        filename="e.csv")),
        ("delete_dataset", EDITOR, lambda s, a: delete_dataset(session=s, actor=a, ref="d")),
        ("add_endpoint", EDITOR, lambda s, a: add_endpoint(session=s, actor=a, name="ep2", kind="echo")),
        ("update_endpoint", EDITOR, lambda s, a: update_endpoint(session=s, actor=a, name="ep", rpm=5)),
        ("delete_endpoint", EDITOR, lambda s, a: delete_endpoint(session=s, actor=a, name="ep")),
        ("ensure_defaults", EDITOR, lambda s, a: ensure_defaults(s, actor=a)),
        ("set_override", EDITOR, lambda s, a: set_override(session=s, actor=a, model="m", input_per_mtok=9.0,
                                                           output_per_mtok=9.0)),
        ("delete_override", EDITOR, lambda s, a: delete_override(session=s, actor=a, model="m")),
        ("batch submit", VIEWER, lambda s, a: batch.submit(session=s, actor=a, dataset_id=ids["ds"],
                                                           version_ids=[ids["v1"]], models=["echo/echo"])),
        ("batch pause", VIEWER, lambda s, a: batch.pause(session=s, actor=a, job_id=ids["job"])),
        ("batch resume", VIEWER, lambda s, a: batch.resume(session=s, actor=a, job_id=ids["job"])),
        ("batch cancel", VIEWER, lambda s, a: batch.cancel(session=s, actor=a, job_id=ids["job"])),
        ("batch retry_failed", VIEWER, lambda s, a: batch.retry_failed(session=s, actor=a, job_id=ids["job"])),
        ("rate_run", VIEWER, lambda s, a: runs.rate_run(ids["run1"], 1, "good", actor=a, session=s)),
        ("record_vote", VIEWER, lambda s, a: compare.record_vote(session=s, actor=a, compare_id=None,
                                                                 run_ids=[ids["run1"], ids["run2"]],
                                                                 winner_run_id=ids["run1"])),
        ("create_comparison", VIEWER, lambda s, a: create_comparison(session=s, actor=a, columns=col,
                                                                             variables={"q": "x"})),
        ("compare start", VIEWER, lambda s, a: compare.start(engine=engine, actor=a, columns=col,
                                                             variables={"q": "x"})),
        ("model call", VIEWER, lambda s, a: get_client(engine).generate_sync(
            actor=a, model="echo/echo", messages=[{"role": "user", "content": "costs money"}])),
        ("streamed model call", VIEWER, lambda s, a: list(get_client(engine).stream_sync(
            actor=a, model="echo/echo", messages=[{"role": "user", "content": "costs money"}]))),
        ("embedding call", VIEWER, lambda s, a: asyncio.run(get_client(engine).embed_call(
            model="echo/echo", inputs=["costs money"], actor=a))),
        ("dataset revision", VIEWER, lambda s, a: datasets.add_rows(session=s, actor=a, ref="d",
                                                                     rows=[{"data": {"question": "x"}}])),
        ("judge evaluator", VIEWER, lambda s, a: _judge_or_raise(a)),
        ("set_role", EDITOR, lambda s, a: users.set_role(session=s, actor=a, email="x@example.com", role="admin")),
        ("reset_examples", VIEWER, lambda s, a: bootstrap.reset_examples(engine, actor=a)),
        ("no identity", None, lambda s, a: prompts.create_prompt(session=s, actor=None, name="n", messages=msgs)),
        ("read token writes", TOKEN_READ, lambda s, a: prompts.save_version(session=s, actor=a, name="p",
                                                                             messages=msgs)),
        ("write token moves production", TOKEN_WRITE,
         lambda s, a: prompts.set_label(session=s, actor=a, name="p", label="production", version=1)),
        ("worker adds endpoint", WORKER, lambda s, a: add_endpoint(session=s, actor=a, name="w", kind="echo")),
    ]


def _judge_or_raise(actor):
    r = asyncio.run(evaluate("judge:echo/echo:is it fine?", "out", actor=actor))
    if r.passed is None and "PermissionDenied" in (r.reason or ""):
        raise PermissionDeniedError(r.reason, action="run")  # the evaluator reports it instead of raising
    return r


def test_every_write_refuses_the_wrong_role_and_changes_nothing(engine):
    ids = _seed(engine)
    problems = []
    for name, role, call in _cases(engine, ids):
        with Session(engine) as s:
            before = _snapshot(s)
            try:
                call(s, role)
            except PermissionDeniedError as exc:
                if role is not None and role.label not in str(exc):
                    problems.append(f"{name}: message does not name the actor: {exc}")
            except Exception as exc:  # noqa: BLE001 - reported below
                problems.append(f"{name}: raised {type(exc).__name__}: {exc}")
            else:
                problems.append(f"{name}: {role.label if role else 'nobody'} was allowed")
            after = _snapshot(s)
            changed = [t for t in before if before[t] != after[t]]
            if changed:
                problems.append(f"{name}: changed {', '.join(changed)}")
            s.rollback()
    assert problems == []


def test_changes_are_audited_with_the_actor_in_the_same_transaction(engine):
    _seed(engine)
    with Session(engine) as s:
        events, total = audit.list_events(session=s, actor=ADMIN)
        assert total == len(events) > 0
        actions = [e.action for e in reversed(events)]
        assert actions[:4] == ["prompt.create", "prompt.version", "label.move", "label.move"]
        assert {"dataset.import", "endpoint.add", "price.set", "job.start", "role.set"} <= set(actions)
        assert all(e.actor == ADMIN.label for e in events if e.action != "role.set")
        moves = [e.summary for e in reversed(events) if e.object_id == "p@production"]
        assert moves == ["- -> 1", "1 -> 2"]
        # a refused or failed change leaves no event: a taken name rolls the whole transaction back
        n = total
        with pytest.raises(Exception):  # noqa: B017 - ConflictError
            prompts.create_prompt(session=s, actor=EDITOR, name="p", messages=[{"role": "user", "content": "x"}])
        assert audit.list_events(session=s, actor=ADMIN)[1] == n
        prompts.set_label(session=s, actor=EDITOR, name="p", label="staging", version=1)
        ev = audit.list_events(session=s, actor=ADMIN, action="label.move", limit=1)[0][0]
        assert (ev.actor, ev.object_id, ev.summary) == ("editor@example.com", "p@staging", "2 -> 1")
        with pytest.raises(PermissionDeniedError):
            audit.list_events(session=s, actor=EDITOR)


def test_names_on_versions_labels_jobs_endpoints_and_runs(engine):
    ids = _seed(engine)
    cli = cli_operator()
    with Session(engine) as s:
        v, _ = prompts.save_version(session=s, actor=cli, name="p", messages=[{"role": "user", "content": "c"}])
        assert v.author == cli.label and cli.label.startswith("cli:")
        ep = update_endpoint(session=s, actor=person("ana@x.io"), name="ep", rpm=7)
        s.commit()
        assert ep.updated_by == "ana@x.io"
        job = batch.get_job(session=s, job_id=ids["job"])
        assert job.created_by == ADMIN.label
        run = s.get(Run, ids["run1"])
        assert run.actor == ADMIN.label
        hist = prompts.label_history(session=s, name="p", label="production")
        assert {e.author for e in hist} == {ADMIN.label}
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "endpoint.update")).scalars().first()
        assert ev.summary == "rpm: - -> 7"
    r = get_client(engine).generate_sync(actor=local_user(), model="echo/echo",
                                         messages=[{"role": "user", "content": "x"}])
    with Session(engine) as s:
        assert s.get(Run, r.run_id).actor == local_user().label


def test_batch_runs_carry_who_started_the_job(sqlite_engine):
    from tests.lib.batch_helpers import StandIn, setup_job  # noqa: I001 - shared batch set-up
    from lib.batch import run_job_foreground

    job_id = setup_job(sqlite_engine, n=3)
    caller = StandIn()
    assert run_job_foreground(job_id, sqlite_engine, caller=caller) == "done"
    assert all(c["actor"] is WORKER and c["on_behalf_of"] == ADMIN.label for c in caller.calls)
    with Session(sqlite_engine) as s:
        users_ = {r for (r,) in s.execute(select(Run.actor).where(Run.batch_job_id == job_id))}
    assert users_ == {ADMIN.label}
