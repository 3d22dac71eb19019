"""Journey: a real batch (two prompt versions on the echo endpoint, evaluated), then the Metrics page:
every tab is opened and screenshotted, the comparison gives a verdict, the arena ranks the versions.
#15 item 6: the Compare versions tab, the Quality tab (one job) and the Batch page show the same figures for
the job, on one stated scale (pass rate, every evaluator is pass/fail); screenshots in
artifacts/screenshots/metrics_compare/."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect
from sqlmodel import func, select

from lib import db, prompts
from lib.batch import jobs as batch
from lib.compare import vote_count as arena_vote_count
from lib.datasets import store as datasets
from lib.models import ArenaVote, BatchItem, Run
from tests.actors import ADMIN
from tests.e2e.conftest import SCREENSHOTS, goto, wait_idle

ROWS = 16
CSV = "question,__expected\n" + "".join(
    f"what is the capital of country {i}?,{'contains:briefly' if i % 2 else 'contains:capital'}\n"
    for i in range(1, ROWS + 1))


def _run_batch(engine) -> int:
    with db.session_scope(engine) as s:
        v1 = prompts.create_prompt(actor=ADMIN, session=s, name="metrics-journey",
                                   messages=[{"role": "user", "content": "Answer: {{question}}"}])
        v2, _ = prompts.save_version(actor=ADMIN, session=s, name="metrics-journey",
                                     messages=[{"role": "user", "content": "Answer briefly: {{question}}"}])
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=CSV.encode(), filename="metrics-journey.csv")
        job = batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v1.id, v2.id], models=["echo/echo"],
                           name="metrics journey")
        job_id = job.id
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the app's background worker runs the job
        with db.session_scope(engine) as s:
            c = batch.counts(session=s, job_id=job_id)
        if c.get("done", 0) == 2 * ROWS:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"batch not done in 90 s: {c}")
    with db.session_scope(engine) as s:  # blind votes on the batch answers: v2 usually preferred
        items = s.exec(select(BatchItem).where(BatchItem.job_id == job_id).order_by(BatchItem.row_idx)).all()
        by_row: dict[int, list[BatchItem]] = {}
        for it in items:
            by_row.setdefault(it.row_idx, []).append(it)
        for n, (a, b) in enumerate(sorted(by_row.values(), key=lambda p: p[0].row_idx)):
            first, second = sorted((a, b), key=lambda it: it.version_id)
            s.add(ArenaVote(run_a_id=second.run_id, run_b_id=first.run_id, winner="b" if n % 5 == 0 else "a"))
    return job_id


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def _compare_shot(page, name: str) -> None:
    folder = SCREENSHOTS / "metrics_compare"
    folder.mkdir(parents=True, exist_ok=True)
    wait_idle(page)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _pick(page, label: str, option: re.Pattern) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option).click()
    wait_idle(page)


def test_metrics_journey(page, streamlit_app, shot):
    job_id = _run_batch(streamlit_app.engine())
    with db.session_scope(streamlit_app.engine()) as s:  # other journeys share this server's database
        total_runs = s.exec(select(func.count()).select_from(Run)).one()
        total_pairs = s.exec(select(func.count()).select_from(ArenaVote)).one()
    # one person's vote over N columns is one vote (its N-1 stored pairs are not; tests/lib/compare/test_arena.py
    # proves the rule); this test's ROWS votes are one pair each, other journeys add their own
    total_votes = arena_vote_count(streamlit_app.engine())
    assert total_runs >= 2 * ROWS and ROWS <= total_votes <= total_pairs
    goto(page, streamlit_app, "metrics")
    expect(page.get_by_role("heading", name="Metrics")).to_be_visible()
    calls = page.locator("[data-testid=stMain] [data-testid=stMetric]").filter(has_text="Calls").first
    expect(calls).to_contain_text(f"{total_runs:,}")
    expect(page.locator("[data-testid=stMain] [data-testid=stVegaLiteChart]").first).to_be_visible()
    shot("overview")
    for name in ("Latency", "Cost & tokens", "Errors & reliability", "Throughput", "Quality"):
        _tab(page, name)
        shot(name.lower().replace(" & ", "-").replace(" ", "-"))
    _tab(page, "Compare versions")
    job_label = re.compile(rf"^#{job_id} metrics journey")  # other journeys ran jobs too
    _pick(page, "Batch job", job_label)
    expect(page.get_by_text("better than metrics-journey:1").first).to_be_visible()
    expect(page.get_by_text(f"Batch job #{job_id}: every case of the job").first).to_be_visible()
    expect(page.get_by_text("Scale: pass rate").first).to_be_visible()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stMetric").filter(has_text="Pass rate A").first).to_contain_text("50.0%")
    expect(main.get_by_test_id("stMetric").filter(has_text="Pass rate B").first).to_contain_text("100.0%")
    expect(main.get_by_test_id("stMetric").filter(has_text="Cases").first).to_contain_text(f"{ROWS}")
    shot("compare-versions")
    _compare_shot(page, "01-metrics-compare-versions")
    _tab(page, "Quality")
    page.get_by_test_id("stMain").get_by_text("One batch job", exact=True).click()
    wait_idle(page)
    _pick(page, "Batch job", job_label)
    expect(page.get_by_text(f"Batch job #{job_id}: every case of the job").first).to_be_visible()
    _compare_shot(page, "02-metrics-quality-one-job")
    _tab(page, "Arena")
    expect(page.get_by_text(f"{total_votes} votes").first).to_be_visible()
    shot("arena")
    goto(page, streamlit_app, "batch")  # the Batch page shows the same figures for the job
    _pick(page, "Job", re.compile(rf"^#{job_id} metrics journey"))
    expect(page.get_by_text(f"Batch job #{job_id}: every case of the job").first).to_be_visible()
    expect(page.get_by_text("pass rate +50.0 pp").first).to_be_visible()
    page.get_by_text("pass rate +50.0 pp").first.scroll_into_view_if_needed()  # the figures table above it
    _compare_shot(page, "03-batch-results-same-job")
    assert page.dialogs == []
