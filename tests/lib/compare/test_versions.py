"""Version comparison within one job (or the rows two jobs share) on one stated scale (#15 item 6).

The literal data reproduces what the screens showed: two jobs on one 50-row dataset (the second ran
29 rows three times), so pairing "the latest item of every case" across jobs gave 108 cases while
both selectors said 50, and a mean score of 36.1 "points" that no job had; the Batch page said 0.2.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

import lib.models as m
from lib.compare import Side, compare_versions, pair_cases, verdict
from lib.compare import candidates as versus_candidates
from lib.errors import ValidationError
from tests.lib.metrics_data import prompt_with_versions, run

MODEL = "openai/gpt-x"
EVAL = "contains:capital"


def _item(s: Session, job: m.BatchJob, row: m.DatasetRow, v: m.PromptVersion, ok: bool, repeat: int = 0,
          score: float | None = None, evaluator: str = EVAL) -> None:
    r = run(v, model=MODEL, output=f"answer {row.idx} {repeat} {ok}", source="batch", batch_job_id=job.id)
    s.add(r)
    s.flush()
    sc = (1.0 if ok else 0.0) if score is None else score
    s.add(m.BatchItem(job_id=job.id, row_id=row.id, row_idx=row.idx, version_id=v.id, model=MODEL, repeat=repeat,
                      state="done", run_id=r.id, passed=ok, score=sc))
    s.add(m.Score(run_id=r.id, evaluator=evaluator, passed=ok, score=sc))


def two_jobs(s: Session) -> dict:
    """Job 1: v1 and v2 on all 50 rows once; job 2: v1 and v2 on rows 1-29, three repeats each."""
    v1, v2 = prompt_with_versions(s)
    ds = m.Dataset(name="qa", format="csv", content_hash="h", row_count=50)
    s.add(ds)
    s.flush()
    rows = [m.DatasetRow(dataset_id=ds.id, idx=i, data={"q": f"question {i}"}) for i in range(1, 51)]
    s.add_all(rows)
    j1 = m.BatchJob(dataset_id=ds.id, version_ids=[v1.id, v2.id], models=[MODEL], status="done",
                    evaluators=[{"type": "contains", "value": "capital"}])
    j2 = m.BatchJob(dataset_id=ds.id, version_ids=[v1.id, v2.id], models=[MODEL], status="done", repeats=3,
                    evaluators=[{"type": "contains", "value": "capital"}])
    s.add_all([j1, j2])
    s.flush()
    for row in rows:  # job 1: v1 passes rows 1 and 30-38 (10 of 50), v2 passes rows 1-30 (30 of 50)
        _item(s, j1, row, v1, row.idx == 1 or 30 <= row.idx <= 38)
        _item(s, j1, row, v2, row.idx <= 30)
    k = 0
    for row in rows[:29]:  # job 2: v1 passes 30 of 87 items, v2 passes 60
        for rep in range(3):
            _item(s, j2, row, v1, k % 29 < 10, rep)
            _item(s, j2, row, v2, k % 29 < 20, rep)
            k += 1
    s.commit()
    return {"v1": v1.id, "v2": v2.id, "ds": ds.id, "j1": j1.id, "j2": j2.id}


def test_old_pairing_mixed_the_jobs(engine):
    """What the screens showed before: 50 cases per selector, 108 paired, 36.1 'points', 0.2 on Batch."""
    with Session(engine, expire_on_commit=False) as s:
        d = two_jobs(s)
    assert versus_candidates(engine)["cases"].tolist() == [50, 50]
    cases = pair_cases(engine, d["ds"], Side(d["v1"], MODEL), Side(d["v2"], MODEL))  # any job: latest item wins
    v = verdict(cases)
    assert len(cases) == 108 and round(v.mean_a * 100, 1) == 36.1


def test_one_job_on_one_scale(engine):
    with Session(engine, expire_on_commit=False) as s:
        d = two_jobs(s)
    c = compare_versions(engine, d["j1"])
    assert c.metric == "pass_rate" and c.scale.startswith("pass rate (%")
    assert c.note == f"Batch job #{d['j1']}: every case of the job, each side on its own items."
    assert c.sides["side"].tolist() == ["greet:1 on openai/gpt-x", "greet:2 on openai/gpt-x"]
    assert c.sides["items"].tolist() == [50, 50] and c.sides["pass_rate"].tolist() == [0.2, 0.6]
    assert c.figure("greet:1 on openai/gpt-x") == 0.2
    assert c.evaluators["scale"].tolist() == ["pass rate (%)"] * 2 and c.evaluators["value"].tolist() == [0.2, 0.6]
    cases, v = c.pair(engine, "greet:1 on openai/gpt-x", "greet:2 on openai/gpt-x")
    assert len(cases) == 50  # the job's cases, not 108
    assert (v.mean_a, v.mean_b) == (0.2, 0.6) and v.n == 50
    assert v.sentence.startswith("greet:2 on openai/gpt-x better than greet:1 on openai/gpt-x: pass rate +40.0 pp")
    c2 = compare_versions(engine, d["j2"])
    assert c2.sides["items"].tolist() == [87, 87]
    assert c2.sides["pass_rate"].round(4).tolist() == [round(30 / 87, 4), round(60 / 87, 4)]
    assert len(c2.pair(engine, *c2.sides["side"])[0]) == 87


def test_two_jobs_on_the_rows_they_share(engine):
    with Session(engine, expire_on_commit=False) as s:
        d = two_jobs(s)
    c = compare_versions(engine, d["j1"], d["j2"])
    assert c.shared_rows == 29
    assert c.note == f"Batch jobs #{d['j1']} and #{d['j2']}: only the 29 dataset rows both jobs ran are counted."
    a, b = f"greet:1 on openai/gpt-x (job #{d['j1']})", f"greet:1 on openai/gpt-x (job #{d['j2']})"
    assert set(c.sides["side"]) >= {a, b}
    one = c.sides.set_index("side")
    assert one.loc[a, "items"] == 29 and one.loc[a, "pass_rate"] == pytest.approx(1 / 29)
    cases, v = c.pair(engine, a, b)
    assert len(cases) == 29 and v.n == 29  # repeat 0 of job 2 against job 1's one answer per row


def test_graded_evaluator_uses_its_own_scale(engine):
    with Session(engine, expire_on_commit=False) as s:
        v1, v2 = prompt_with_versions(s)
        ds = m.Dataset(name="qa", format="csv", content_hash="h", row_count=12)
        s.add(ds)
        s.flush()
        rows = [m.DatasetRow(dataset_id=ds.id, idx=i, data={"q": str(i)}) for i in range(1, 13)]
        s.add_all(rows)
        job = m.BatchJob(dataset_id=ds.id, version_ids=[v1.id, v2.id], models=[MODEL], status="done")
        s.add(job)
        s.flush()
        for row in rows:
            _item(s, job, row, v1, True, score=0.5, evaluator="similar:0.4:{{expected}}")
            _item(s, job, row, v2, True, score=0.56, evaluator="similar:0.4:{{expected}}")
        s.commit()
        job_id = job.id
    c = compare_versions(engine, job_id)
    assert c.metric == "score" and "0-1 scale" in c.scale
    assert c.sides["mean_score"].round(3).tolist() == [0.5, 0.56]
    assert c.evaluators["scale"].tolist() == ["score (0-1)"] * 2
    _cases, v = c.pair(engine, *c.sides["side"])
    assert "mean score (0-1 scale) +0.060" in v.sentence and "points" not in v.sentence


def test_jobs_on_different_datasets_are_refused(engine):
    with Session(engine, expire_on_commit=False) as s:
        d = two_jobs(s)
        other = m.Dataset(name="other", format="csv", content_hash="o", row_count=0)
        s.add(other)
        s.flush()
        j3 = m.BatchJob(dataset_id=other.id, version_ids=[d["v1"]], models=[MODEL], status="done")
        s.add(j3)
        s.commit()
        j3_id = j3.id
    with pytest.raises(ValidationError, match="different datasets"):
        compare_versions(engine, d["j1"], j3_id)
