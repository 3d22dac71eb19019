"""Every change the Teams issue lists leaves exactly one audit event naming who, the action and the object.

prompt create/version/archive/restore/import, label moves, endpoint add/update/remove, price changes,
role changes, job start/pause/cancel/retry, dataset import/delete (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json

from sqlalchemy import update
from sqlmodel import Session, select

from lib import batch, datasets, prompts, users
from lib.client import add_endpoint, delete_endpoint, set_override, update_endpoint
from lib.models import AuditEvent, BatchItem
from tests.actors import ADMIN, EDITOR


def _events(s: Session, since: int) -> list[tuple[str, str, str]]:
    rows = s.exec(select(AuditEvent).where(AuditEvent.id > since).order_by(AuditEvent.id)).all()
    return [(e.actor, e.action, e.object_id) for e in rows]


def _last_id(s: Session) -> int:
    return max([e.id for e in s.exec(select(AuditEvent)).all()] or [0])


def test_every_listed_change_is_one_event_with_who_and_what(engine):
    msgs = [{"role": "user", "content": "{{q}}"}]
    steps = []  # (change, expected events)
    with Session(engine) as s:
        def step(expected, call):
            mark = _last_id(s)
            call()
            s.commit()
            steps.append((expected, _events(s, mark)))

        step([(EDITOR.label, "prompt.create", "p")],
             lambda: prompts.create_prompt(actor=EDITOR, session=s, name="p", messages=msgs))
        step([(EDITOR.label, "prompt.version", "p")],
             lambda: prompts.save_version(actor=EDITOR, session=s, name="p", messages=[{"role": "user",
                                                                                        "content": "2 {{q}}"}]))
        step([(EDITOR.label, "prompt.archive", "p")],
             lambda: prompts.set_archived(actor=EDITOR, session=s, name="p", archived=True))
        step([(EDITOR.label, "prompt.restore", "p")],
             lambda: prompts.set_archived(actor=EDITOR, session=s, name="p", archived=False))
        exported = dict(prompts.export_prompt(session=s, name="p"), labels={}, label_history=[])
        step([(EDITOR.label, "prompt.import", "p-copy")],
             lambda: prompts.import_prompt(actor=EDITOR, session=s, data=json.dumps(exported), name="p-copy"))
        step([(ADMIN.label, "label.move", "p@production")],
             lambda: prompts.set_label(actor=ADMIN, session=s, name="p", label="production", version=2))
        step([(ADMIN.label, "endpoint.add", "ep")],
             lambda: add_endpoint(actor=ADMIN, session=s, name="ep", kind="echo"))
        step([(ADMIN.label, "endpoint.update", "ep")],
             lambda: update_endpoint(actor=ADMIN, session=s, name="ep", rpm=9))
        step([(ADMIN.label, "endpoint.remove", "ep")], lambda: delete_endpoint(actor=ADMIN, session=s, name="ep"))
        step([(ADMIN.label, "price.set", "m")],
             lambda: set_override(actor=ADMIN, session=s, model="m", input_per_mtok=1.0, output_per_mtok=2.0))
        step([(ADMIN.label, "role.set", "eli@example.com")],
             lambda: users.set_role(actor=ADMIN, session=s, email="eli@example.com", role="editor"))
        step([(EDITOR.label, "dataset.import", "d@1")],
             lambda: datasets.import_dataset(actor=EDITOR, session=s, data=b"q\n1\n2\n", filename="d.csv", name="d"))
        ds = datasets.get_dataset(session=s, ref="d")
        v1 = prompts.resolve(session=s, ref="p:1")
        jobs: list[int] = []
        step([(EDITOR.label, "job.start", "1")],
             lambda: jobs.append(batch.submit(actor=EDITOR, session=s, dataset_id=ds.id, version_ids=[v1.id],
                                              models=["echo/echo"]).id))
        job_id = jobs[0]
        step([(EDITOR.label, "job.pause", str(job_id))], lambda: batch.pause(actor=EDITOR, session=s, job_id=job_id))
        s.execute(update(BatchItem).where(BatchItem.job_id == job_id).values(state="error"))  # as a failed run
        s.commit()
        step([(EDITOR.label, "job.retry", str(job_id))],
             lambda: batch.retry_failed(actor=EDITOR, session=s, job_id=job_id))
        step([(EDITOR.label, "job.cancel", str(job_id))], lambda: batch.cancel(actor=EDITOR, session=s, job_id=job_id))
        datasets.import_dataset(actor=EDITOR, session=s, data=b"x\n1\n", filename="e.csv", name="e")
        s.commit()
        step([(ADMIN.label, "dataset.delete", "e")], lambda: datasets.delete_dataset(actor=ADMIN, session=s, ref="e"))
    wrong = [(want, got) for want, got in steps if want != got]
    assert wrong == []


def test_an_endpoint_options_change_is_in_its_audit_summary_without_string_values(engine):
    """Before: changing only an endpoint's options was audited as 'no change'."""
    with Session(engine) as s:
        add_endpoint(actor=ADMIN, session=s, name="oa", kind="openai", base_url="https://api.example.com/v1")
        update_endpoint(actor=ADMIN, session=s, name="oa", options={"max_completion_tokens": True,
                                                                    "anthropic_version": "secret-ish text"})
        s.commit()
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "endpoint.update")).one()
    assert "options" in ev.summary and "max_completion_tokens=True" in ev.summary
    assert "anthropic_version" in ev.summary and "secret-ish text" not in ev.summary
