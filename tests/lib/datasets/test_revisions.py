"""Dataset revisions: copy on write, jobs pinned to the revision they ran on, add rows, delete unused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lib.batch import get_job, run_job_foreground
from lib.cli.app import build
from lib.datasets import (
    add_rows,
    delete_dataset,
    get_dataset,
    get_rows,
    import_dataset,
    list_datasets,
    revisions,
    save_revision,
)
from lib.db import session_scope
from lib.errors import NotFoundError, ValidationError
from tests.actors import ADMIN
from tests.lib.batch_helpers import setup_job

runner = CliRunner()


def cli(*args):
    return runner.invoke(build(), [str(a) for a in args])


def test_edit_is_a_new_revision_and_the_old_one_stays(engine):
    with session_scope(engine) as s:
        r1 = import_dataset(actor=ADMIN, session=s, data=b"q,__expected\nhello,contains:h\nbye,\n",
                            filename="greet.csv")
        s.commit()
        rows = [{"data": dict(r.data), "asserts": list(r.asserts)} for r in get_rows(session=s, dataset_id=r1.id)]
        rows[1]["data"]["q"] = "good bye"
        rows.append({"data": {"q": "hi there"}, "asserts": [{"type": "icontains", "value": "hi"}]})
        r2 = save_revision(actor=ADMIN, session=s, ref="greet", rows=rows)
        s.commit()
        assert (r2.name, r2.revision, r2.parent_id, r2.row_count) == ("greet", 2, r1.id, 3)
        assert [r.data["q"] for r in get_rows(session=s, dataset_id=r1.id)] == ["hello", "bye"]
        assert [r.data["q"] for r in get_rows(session=s, dataset_id=r2.id)] == ["hello", "good bye", "hi there"]
        assert get_rows(session=s, dataset_id=r2.id)[0].asserts == [{"type": "contains", "value": "h"}]
        assert get_dataset(session=s, ref="greet").id == r2.id
        assert get_dataset(session=s, ref="greet@1").id == r1.id and get_dataset(session=s, ref="greet@r2").id == r2.id
        with pytest.raises(NotFoundError):
            get_dataset(session=s, ref="greet@9")
        assert save_revision(actor=ADMIN, session=s, ref="greet", rows=rows).id == r2.id  # unchanged: no new revision
        assert [d.revision for d in revisions(session=s, name="greet")] == [2, 1]
        assert [d.id for d in list_datasets(session=s)] == [r2.id]
        assert {d.id for d in list_datasets(session=s, all_revisions=True)} == {r1.id, r2.id}
        # re-importing the first file's bytes is the latest revision's name, but different content: a new name
        again = import_dataset(actor=ADMIN, session=s, data=b"q,__expected\nhello,contains:h\nbye,\n",
                               filename="greet.csv")
        assert again.name == "greet-2"
        with pytest.raises(ValidationError, match="at least one row"):
            save_revision(actor=ADMIN, session=s, ref="greet", rows=[])


def test_add_rows_with_the_answer_as_expected(engine):
    with session_scope(engine) as s:
        import_dataset(actor=ADMIN, session=s, data=b"q\none\n", filename="cases.csv")
        r2 = add_rows(actor=ADMIN, session=s, ref="cases", rows=[{"data": {"q": "two"},
                                                     "asserts": [{"type": "equals", "value": "echo: two"}]}])
        s.commit()
        rows = get_rows(session=s, dataset_id=r2.id)
        assert r2.revision == 2 and [r.data for r in rows] == [{"q": "one"}, {"q": "two"}]
        assert rows[1].asserts == [{"type": "equals", "value": "echo: two"}]


def test_jobs_stay_pinned_and_used_datasets_cannot_be_deleted(engine):
    job = setup_job(engine, 3)
    assert run_job_foreground(job, engine) == "done"
    with session_scope(engine) as s:
        first = get_job(session=s, job_id=job).dataset_id
        add_rows(actor=ADMIN, session=s, ref="qa", rows=[{"data": {"question": "new?", "answer": "x"}}])
        s.commit()
        assert get_job(session=s, job_id=job).dataset_id == first  # the job keeps revision 1
        with pytest.raises(ValidationError, match=f"used by batch job\\(s\\) {job}"):
            delete_dataset(actor=ADMIN, session=s, ref="qa")
        import_dataset(actor=ADMIN, session=s, data=b"a\n1\n", filename="spare.csv")
        add_rows(actor=ADMIN, session=s, ref="spare", rows=[{"data": {"a": "2"}}])
        s.commit()
        assert len(delete_dataset(actor=ADMIN, session=s, ref="spare")) == 2
        s.commit()
        with pytest.raises(NotFoundError):
            get_dataset(session=s, ref="spare")


def test_cli_list_shows_revisions_and_delete(engine, tmp_path):
    f = tmp_path / "tickets.csv"
    f.write_text("q\na\n", encoding="utf-8")
    assert cli("datasets", "import", f).exit_code == 0
    with session_scope(engine) as s:
        add_rows(actor=ADMIN, session=s, ref="tickets", rows=[{"data": {"q": "b"}}])
        s.commit()
    r = cli("datasets", "list")
    assert r.exit_code == 0 and "tickets@2" in r.stdout and "tickets@1" in r.stdout
    listing = json.loads(cli("datasets", "list", "--latest", "--json").stdout)
    assert [(d["name"], d["revision"], d["rows"]) for d in listing] == [("tickets", 2, 2)]
    assert cli("datasets", "show", "tickets@1", "--json").exit_code == 0
    r = cli("datasets", "delete", "tickets", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["revisions"] == 2
    r = cli("datasets", "delete", "tickets")
    assert r.exit_code == 2 and "unknown dataset" in r.stderr
    assert cli("prompts", "create", "qa", "--message", "user:{{q}}").exit_code == 0
    assert cli("batch", "run", "--dataset", f, "--prompt", "qa", "--model", "echo/echo").exit_code == 0
    r = cli("datasets", "delete", "tickets")
    assert r.exit_code == 2 and "used by batch job(s)" in r.stderr
