"""Version comparison on literal batch results, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

import lib.models as m
from lib.compare import verdicts as versus
from lib.errors import ValidationError
from tests.lib.metrics_data import prompt_with_versions, run


def batch_data(s: Session, scores_a: list[float], scores_b: list[float], model: str = "openai/gpt-x",
               outputs_b: list[str] | None = None) -> tuple[int, versus.Side, versus.Side]:
    """A dataset with one row per score; a job of two versions; done items with the given scores."""
    vs = prompt_with_versions(s)
    ds = m.Dataset(name="qa", format="csv", content_hash="h", row_count=len(scores_a))
    s.add(ds)
    s.flush()
    rows = [m.DatasetRow(dataset_id=ds.id, idx=i + 1, data={"q": f"question {i + 1}"}) for i in range(len(scores_a))]
    s.add_all(rows)
    job = m.BatchJob(dataset_id=ds.id, version_ids=[vs[0].id, vs[1].id], models=[model], status="done")
    s.add(job)
    s.flush()
    for v, scores, outs in ((vs[0], scores_a, None), (vs[1], scores_b, outputs_b)):
        for i, (row, sc) in enumerate(zip(rows, scores, strict=True)):
            r = run(v, model=model, output=(outs[i] if outs else f"answer {i}"), source="batch")
            s.add(r)
            s.flush()
            s.add(m.BatchItem(job_id=job.id, row_id=row.id, row_idx=row.idx, version_id=v.id, model=model,
                              state="done", run_id=r.id, score=sc, passed=sc >= 0.5))
            s.add(m.Score(run_id=r.id, evaluator="judge", passed=sc >= 0.5, score=sc))
    s.commit()
    return ds.id, versus.Side(vs[0].id, model), versus.Side(vs[1].id, model)


def test_constant_improvement_is_a_clear_verdict(engine):
    with Session(engine, expire_on_commit=False) as s:
        ds, a, b = batch_data(s, [0.5] * 40, [0.56] * 40)
    cases = versus.pair_cases(engine, ds, a, b)
    assert len(cases) == 40 and (cases["outcome"] == "better").all()
    v = versus.verdict(cases, "v1", "v2")
    assert v.sentence.startswith("v2 better than v1: mean score (0-1 scale) +0.060, 95% CI +0.060..+0.060")
    assert v.diff.low == pytest.approx(0.06) and v.mcnemar["p_value"] == 1.0 and v.outcome == "better"


def test_few_cases_say_how_many_are_needed(engine):
    with Session(engine, expire_on_commit=False) as s:
        ds, a, b = batch_data(s, [0.4, 0.6, 0.5, 0.7, 0.2], [0.5, 0.5, 0.7, 0.6, 0.4])
    v = versus.verdict(versus.pair_cases(engine, ds, a, b))
    assert v.sentence.startswith("not enough cases to tell (5 scored") and "about" in v.sentence
    assert v.needed and v.needed > 5


def test_worse_and_mcnemar_and_filters(engine):
    a_scores = [1.0] * 30 + [0.0] * 10
    b_scores = [0.0] * 12 + [1.0] * 18 + [0.0] * 10  # 12 lost, none gained
    outs = [f"answer {i}" if i >= 12 else "changed" for i in range(40)]
    with Session(engine, expire_on_commit=False) as s:
        ds, a, b = batch_data(s, a_scores, b_scores, outputs_b=outs)
    cases = versus.pair_cases(engine, ds, a, b)
    v = versus.verdict(cases, "v1", "v2")
    assert v.sentence.startswith("v2 worse than v1: mean score (0-1 scale) -0.300")
    vp = versus.verdict(versus.pair_cases(engine, ds, a, b, metric="pass_rate"), "v1", "v2", metric="pass_rate")
    assert vp.sentence.startswith("v2 worse than v1: pass rate -30.0 pp, 95% CI")
    assert v.mcnemar["b"] == 12 and v.mcnemar["c"] == 0 and v.mcnemar["p_value"] == pytest.approx(2 / 2 ** 12)
    assert len(versus.filter_cases(cases, "worse")) == 12 and versus.filter_cases(cases, "better").empty
    assert len(versus.filter_cases(cases, "changed")) == 12
    assert cases.iloc[0]["input"] == "q=question 1"
    d = versus.case_diff(cases.iloc[0]["output_a"], cases.iloc[0]["output_b"])
    assert d.words == "[-answer 0-]{+changed+}" and not d.identical


def test_candidates_and_prompt_diff(engine):
    with Session(engine, expire_on_commit=False) as s:
        ds, a, b = batch_data(s, [0.5] * 3, [0.5] * 3)
    c = versus.candidates(engine)
    assert c["cases"].tolist() == [3, 3] and c["label"].tolist() == ["greet:1 on openai/gpt-x",
                                                                     "greet:2 on openai/gpt-x"]
    assert "changed" in versus.prompt_diff(engine, a.version_id, b.version_id).summary()
    with pytest.raises(ValidationError):
        versus.check_sides(a, a)
    assert versus.pair_cases(engine, ds, a, versus.Side(a.version_id, "other/model")).empty
    assert versus.verdict(versus.pair_cases(engine, ds + 99, a, b)).scored == 0
