"""AppTest (#15 item 6): the Batch results, Metrics Quality (one job) and Metrics Compare versions screens show
the same figures, on the same stated scale, for the same job (two jobs share the dataset, as before the fix)."""

from __future__ import annotations

import re

from sqlmodel import Session

from tests.app.conftest import new_app, texts, values
from tests.lib.compare.test_versions import two_jobs


def _frame(at, _screen: str):
    """The figures table (one per screen): the frame with a side and a pass rate column."""
    return next(d.value for d in at.dataframe if {"side", "pass rate"} <= set(d.value.columns))


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_three_screens_agree_for_one_job(engine_for_app):
    with Session(engine_for_app, expire_on_commit=False) as s:
        d = two_jobs(s)
    job = d["j1"]
    expected = [["greet:1 on openai/gpt-x", "20.0%"], ["greet:2 on openai/gpt-x", "60.0%"]]

    batch = _ok(new_app("pages/batch.py"))
    pick = next(b for b in batch.selectbox if b.label == "Job")
    pick.set_value(next(o for o in pick.options if o.startswith(f"#{job} "))).run()
    _ok(batch)
    on_batch = _frame(batch, "batch_figures")
    assert on_batch[["side", "pass rate"]].values.tolist() == expected
    assert on_batch["done"].tolist() == ["50", "50"]  # one job's cases, not 108
    assert f"Batch job #{job}: every case of the job" in texts(batch) and "Scale: pass rate (%" in texts(batch)
    assert any("pass rate +40.0 pp" in t for t in values(batch.caption))

    metrics = _ok(new_app("pages/metrics.py"))
    metrics.session_state["metrics_tab"] = "Quality"
    _ok(metrics.run())
    metrics.segmented_control(key="metrics_quality_scope").set_value("job").run()
    metrics.selectbox(key="metrics_quality_job").set_value(job).run()
    on_quality = _frame(_ok(metrics), "metrics_quality_figures")

    metrics.session_state["metrics_tab"] = "Compare versions"
    _ok(metrics.run())
    metrics.selectbox(key="metrics_vs_job").set_value(job).run()
    _ok(metrics)
    on_compare = _frame(metrics, "metrics_vs_figures")
    shown = {m.label: m.value for m in metrics.metric}
    assert shown["Cases"] == "50" and shown["Pass rate A"] == "20.0%" and shown["Pass rate B"] == "60.0%"
    assert values(metrics.success)[0].startswith(
        "greet:2 on openai/gpt-x better than greet:1 on openai/gpt-x: pass rate +40.0 pp")
    assert not re.search(r"\d points", texts(metrics))  # the old, unstated "points" scale

    assert on_batch.equals(on_quality) and on_batch.equals(on_compare)


def test_compare_two_jobs_says_which_rows(engine_for_app):
    with Session(engine_for_app, expire_on_commit=False) as s:
        d = two_jobs(s)
    at = _ok(new_app("pages/metrics.py"))
    at.session_state["metrics_tab"] = "Compare versions"
    _ok(at.run())
    at.selectbox(key="metrics_vs_job").set_value(d["j1"]).run()
    at.toggle(key="metrics_vs_two").set_value(True).run()
    at.selectbox(key="metrics_vs_other").set_value(d["j2"]).run()
    _ok(at)
    assert "only the 29 dataset rows both jobs ran are counted" in texts(at)
    assert _frame(at, "metrics_vs_figures")["done"].tolist() == ["29", "29", "87", "87"]  # job 2: 3 repeats
