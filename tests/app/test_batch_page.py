"""AppTest of pages/batch.py: upload, mapping, preflight, start, progress, results, download."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import prompts
from lib.batch import jobs as batch
from lib.batch import worker
from lib.client import add_endpoint, record_check
from lib.client.model_client import reset_clients
from lib.datasets import store as datasets
from lib.db import get_engine, session_scope
from tests.actors import ADMIN
from tests.app.conftest import ROOT, texts

PAGE = str(ROOT / "pages" / "batch.py")
CSV = b"Question,expected_answer,__expected\nwhat is 2+2?,4,contains:2+2\n=HYPERLINK(\"x\"),-5,contains:nothing\n"


@pytest.fixture
def page(app_db, monkeypatch):
    eng = get_engine(app_db)
    with session_scope(eng) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="qa", messages=[{"role": "user",
                              "content": "Q: {{question}}"}])
    yield eng
    reset_clients()


def _at() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_empty_page_asks_for_a_dataset(page):
    at = _at()
    assert "No job yet" in texts(at) or at.radio(key="batch_source").value == "Upload a file"


def _stored_dataset(eng) -> int:
    with session_scope(eng) as s:
        return datasets.import_dataset(actor=ADMIN, session=s, data=CSV, filename="qa.csv").id


def test_full_flow_mapping_preflight_start_progress_results_download(page, monkeypatch):
    eng = page
    ds_id = _stored_dataset(eng)  # a stored dataset (uploads are tested below with the real uploader)
    at = _at()
    at.radio(key="batch_source").set_value("Stored dataset").run()
    assert "qa: 2 rows" in texts(at)
    at.multiselect(key="batch_versions").set_value(["qa:1"])
    at.multiselect(key="batch_models").set_value(["echo/echo"]).run()
    assert not at.exception, [e.value for e in at.exception]
    # mapping: {{question}} matched to "Question" (case ignored); preview rendered as plain text
    assert at.selectbox(key="batch_map_question").value == "Question"
    assert any("Q: what is 2+2?" in c.value for c in at.code)
    # a wrong mapping is linted and blocks the preflight
    at.selectbox(key="batch_map_question").set_value("(none)").run()
    assert at.error and at.button(key="batch_preflight_btn").disabled
    at.selectbox(key="batch_map_question").set_value("Question").run()
    at.text_area(key="batch_evals").set_value("icontains:WHAT\nbogus-evaluator:x").run()
    assert any("bogus" in e.value for e in at.error)
    at.text_area(key="batch_evals").set_value("icontains:Q:").run()
    at.button(key="batch_preflight_btn").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls"] == "2" and metrics["Cost (est.)"] == "$0"
    at.button(key="batch_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = at.session_state["batch_job_id"]
    with session_scope(eng) as s:
        job = batch.get_job(session=s, job_id=job_id)
        assert job.status == "pending" and job.total_items == 2 and job.dataset_id == ds_id
        assert job.evaluators == [{"type": "icontains", "value": "Q:"}]
    assert {m.label: m.value for m in at.metric}["Status"] == "pending"
    # the worker (started by the app in production) runs it; the page shows progress and results
    assert worker.run_job_foreground(job_id, eng) == "done"
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "done" and metrics["Done"] == "2" and metrics["Errors"] == "0"
    frames = [d.value for d in at.dataframe]
    rates = next(f for f in frames if "pass rate" in f.columns)
    assert rates.iloc[0]["pass rate"] == "50.0%"  # row 2's own __expected fails
    results = next(f for f in frames if "output" in f.columns and "state" in f.columns)
    assert sorted(results["output"]) == ['[user] Q: =HYPERLINK("x")', "[user] Q: what is 2+2?"]
    at.selectbox(key="batch_f_pass").set_value("failed").run()
    results = next(d.value for d in at.dataframe if "output" in d.value.columns and "state" in d.value.columns)
    assert list(results["row"]) == [2]
    at.toggle(key="batch_matrix").set_value(True).run()
    matrix = next(d.value for d in at.dataframe if "qa:1 · echo/echo" in d.value.columns)
    assert len(matrix) == 2
    at.button(key="batch_prepare_dl").click().run()
    assert not at.exception, [e.value for e in at.exception]
    dl = at.session_state["batch_downloads"]
    csv = dl["csv"].decode("utf-8-sig")
    assert "'=HYPERLINK" in csv and ",-5," in csv  # formula neutralised, number kept
    back = pd.read_parquet(io.BytesIO(dl["parquet"]))
    assert len(back) == 2 and set(back["state"]) == {"done"}


def _uploader(at: AppTest):
    """The real st.file_uploader of the page (AppTest drives it like a browser would)."""
    return next(u for u in at.get("file_uploader") if u.key == "batch_upload")


def test_upload_imports_the_file(page):
    at = _at()
    _uploader(at).upload("upload.csv", CSV, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "upload: 2 rows" in texts(at)
    with session_scope(page) as s:
        assert [d.name for d in datasets.list_datasets(session=s)] == ["upload"]


def test_bad_upload_names_row_and_column(page):
    at = _at()
    _uploader(at).upload("bad.csv", b"a,b\n1,2\n3,4,5\n", "text/csv")
    at.run()
    assert at.error and "row" in at.error[0].value


def test_a_file_the_type_filter_lets_through_but_cannot_be_read_says_why(page):
    """A .json that is not a list of records passes the uploader's type filter and reaches the error path."""
    at = _at()
    _uploader(at).upload("rows.json", b'{"not": "a list of rows"', "application/json")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]  # shown escaped
    assert errors == ["file rows.json: invalid JSON at line 1, column 25: Expecting ',' delimiter"], errors
    with session_scope(page) as s:
        assert datasets.list_datasets(session=s) == []


def test_page_runs_inside_the_app(open_page):
    at = open_page("pages/batch.py")
    assert any(t.value == "Batch" for t in at.title)


def test_a_fixed_file_of_the_same_name_and_size_is_imported_again(page):
    """The page skipped an upload whose (name, size) matched the previous one, so a file fixed in place
    (same length: one cell changed) kept showing the old dataset."""
    first = b"q,a\nwhat is 2+2?,4\n"
    fixed = b"q,a\nwhat is 2+3?,5\n"
    assert len(first) == len(fixed)
    at = _at()
    _uploader(at).upload("same.csv", first, "text/csv")
    at.run()
    _uploader(at).upload("same.csv", fixed, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["batch_dataset_id"] is not None
    with session_scope(page) as s:
        rows = datasets.get_rows(session=s, dataset_id=at.session_state["batch_dataset_id"], limit=5)
        assert [dict(r.data) for r in rows] == [{"q": "what is 2+3?", "a": "5"}]
    at.run()  # the same file again is not imported a third time
    with session_scope(page) as s:
        assert len(datasets.list_datasets(session=s)) == 2


def test_results_show_tool_calls(page, fake_server):
    """#13: a tool-call answer is listed with its calls, not as an empty output."""
    from lib.client import endpoints
    from tests.fakefaults import Fault

    eng = page
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with session_scope(eng) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="fake", kind="openai", base_url=fake_server.url)
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"question\nParis?\n", filename="w.csv", name="w")
        s.commit()
        v = prompts.create_prompt(actor=ADMIN, session=s, name="tooly", messages=[{"role": "user",
                                  "content": "{{question}}"}],
                                  params={"tools": tools})
        job_id = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id], models=["fake/gpt-x"],
                              evaluators=["tool-called:get_weather"]).id
    fake_server.script(Fault(tool_calls=[{"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]))
    assert worker.run_job_foreground(job_id, eng) == "done"
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["batch_job_id"] = job_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    results = next(d.value for d in at.dataframe if "tool calls" in d.value.columns)
    assert list(results["tool calls"]) == ['-> get_weather({"city": "Paris"})']
    assert list(results["verdict"]) == ["pass"]


def test_mapping_suggests_a_close_column_and_lint_is_one_box_per_level(page):
    with session_scope(page) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="co", messages=[{"role": "user",
                              "content": "{{company}}: {{a}} {{b}}"}])
        datasets.import_dataset(actor=ADMIN, session=s, data=b"customer_company,x\nAcme,1\n,2\n", filename="co.csv")
    at = _at()
    at.radio(key="batch_source").set_value("Stored dataset").run()
    at.multiselect(key="batch_versions").set_value(["co:1"])
    at.multiselect(key="batch_models").set_value(["echo/echo"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="batch_map_company").value == "customer_company"
    assert any("suggested: customer_company" in c.value.replace("\\", "") for c in at.caption)
    lint_boxes = [e.value for e in at.error if e.value.startswith("**")]  # the others are per-row previews
    assert len(lint_boxes) == 1 and lint_boxes[0].startswith("**3 errors**"), lint_boxes  # one box, not three
    assert len(at.warning) == 1 and at.warning[0].value.startswith("**1 warning**")


def test_models_a_test_found_are_offered_as_on_the_playground(page):
    """An endpoint with no static model list: the models its last Test found are choices, as on the Playground."""
    with session_scope(page) as s:
        add_endpoint(actor=ADMIN, session=s, name="local", kind="openai", base_url="http://127.0.0.1:9/v1")
        record_check(actor=ADMIN, session=s, name="local", result={"ok": True, "models": ["found-model"]})
    _stored_dataset(page)
    at = _at()
    at.radio(key="batch_source").set_value("Stored dataset").run()
    options = at.multiselect(key="batch_models").options
    assert "local/found-model" in options and "echo/echo" in options
