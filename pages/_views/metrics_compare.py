"""Metrics page sections: version comparison (paired cases, diff, verdict) and the arena leaderboard.

Layout only; untrusted text (answers, inputs, prompts) is shown with st.code / st.dataframe, never HTML.
"""

from __future__ import annotations

import streamlit as st

from lib.compare import case_diff, delta_text, filter_cases, prompt_diff
from lib.datasets import to_bytes
from lib.ui import deltas, leaderboard, md_escape
from pages._views import metrics as mv
from pages._views.version_figures import evaluators_table, figure_text, figures_table

FILTERS = {"all": "All cases", "changed": "Answer changed", "worse": "Got worse", "better": "Got better"}


def pick_job(url: str, key: str, label: str = "Batch job") -> int | None:
    """A batch job picker (date, versions, models, evaluators); None when there is none."""
    jobs = mv.jobs(url)
    if jobs.empty:
        return None
    labels = dict(zip(jobs["job_id"].astype(int), jobs["label"], strict=True))
    return st.selectbox(label, list(labels), format_func=labels.get, key=key)


def versus_tab(url: str) -> None:
    """Two (version, model) sides of one batch job (or the rows two jobs share): figures, verdict, cases."""
    job = pick_job(url, "metrics_vs_job")
    if job is None:
        st.info("Nothing to compare yet: run a Batch with two prompt versions (or two models) on one dataset.")
        return
    jobs = mv.jobs(url)
    ds = int(jobs.loc[jobs["job_id"] == job, "dataset_id"].iloc[0])
    same = jobs[(jobs["dataset_id"] == ds) & (jobs["job_id"] != job)]
    other = None
    if len(same) and st.toggle("Add sides from another job on this dataset (only the rows both ran count)",
                               key="metrics_vs_two"):
        others = dict(zip(same["job_id"].astype(int), same["label"], strict=True))
        other = st.selectbox("Other job", list(others), format_func=others.get, key="metrics_vs_other")
    cmp = mv.comparison(url, int(job), other)
    figures_table(cmp, "metrics_vs")
    labels = cmp.sides["side"].tolist()
    if len(labels) < 2:
        st.info("This job ran only one version x model; pick another job or add one on the same dataset.")
        return
    c1, c2 = st.columns(2)
    a = c1.selectbox("A (baseline)", labels, index=0, key="metrics_vs_a")
    b = c2.selectbox("B (candidate)", labels, index=1, key="metrics_vs_b")
    if a == b:
        st.warning("Pick two different sides.")
        return
    sa, sb = cmp.side(a), cmp.side(b)
    if sa.version_id != sb.version_id:
        diff = prompt_diff(None, sa.version_id, sb.version_id)
        with st.expander(f"Prompt diff: {md_escape(diff.summary())}", expanded=not diff.identical):
            st.code(diff.text or "(identical)", language="diff")
    cases, v = mv.paired(url, int(job), other, a, b)
    if cases.empty:
        st.info("These two sides have no dataset row in common.")
        return
    box = {"better": st.success, "worse": st.error, "same": st.info}.get(v.outcome, st.warning)
    box(md_escape(v.sentence))
    what = "Pass rate" if cmp.metric == "pass_rate" else "Mean score (0-1)"
    m = st.columns(4)
    m[0].metric("Cases", f"{v.n:,}", help=f"{v.scored} judged on both sides")
    m[1].metric(f"{what} A", figure_text(cmp, cmp.figure(a)))
    m[2].metric(f"{what} B", figure_text(cmp, cmp.figure(b)),
                delta=None if v.diff is None else delta_text(v.diff.estimate, cmp.metric or "score"))
    m[3].metric("Pass rate A -> B", "-" if v.pass_a is None else f"{v.pass_a:.0%} -> {v.pass_b:.0%}")
    evaluators_table(cmp, "metrics_vs")
    mv.block(deltas(cases), cases[["row_idx", "delta", "outcome"]].dropna(subset=["delta"]), "score_changes",
             empty="No scores on both sides.")
    show = st.segmented_control("Show", list(FILTERS), format_func=FILTERS.get, default="all",
                                key="metrics_vs_filter") or "all"
    shown = filter_cases(cases, show)
    st.caption(f"{len(shown):,} of {len(cases):,} cases")
    st.dataframe(shown[["row_idx", "input", "score_a", "score_b", "delta", "outcome", "output_a", "output_b"]],
                 hide_index=True, width="stretch",
                 column_config={"row_idx": st.column_config.NumberColumn("row"),
                                "delta": st.column_config.NumberColumn("B - A", format="%+.2f")})
    st.download_button("Cases CSV", data=to_bytes(shown, "csv"), file_name="comparison_cases.csv",
                       mime="text/csv", key="metrics_vs_csv", on_click="ignore", icon=":material/download:")
    if len(shown):
        rows = shown["row_idx"].tolist()
        row = st.selectbox("Word diff of row", rows, key="metrics_vs_row")
        case = shown[shown["row_idx"] == row].iloc[0]
        d = case_diff(case["output_a"], case["output_b"])
        st.caption(f"Similarity {d.similarity:.0%}; {d.removed_words} words removed, {d.added_words} added "
                   "([-removed-] {+added+})" if not d.identical else "Identical answers.")
        st.code(d.words or "(empty)", language=None, wrap_lines=True)


def arena_tab(url: str) -> None:
    """Leaderboard of versions and models from blind compare votes."""
    by = st.segmented_control("Rank", ["version_model", "version", "model"], default="version_model",
                              format_func={"version_model": "version x model", "version": "versions",
                                           "model": "models"}.get, key="metrics_arena_by") or "version_model"
    lb = mv.leaderboard(url, by)
    if lb.empty:
        st.info("No arena votes yet: in Compare, turn on blind mode and vote for the better answer.")
        return
    mv.block(leaderboard(lb), lb, f"arena_{by}")
    st.caption(f"{mv.vote_count(url, by):,} votes. Bradley-Terry ratings on an Elo-like scale "
               "(400 points = 10:1 odds), 95% intervals from resampling votes; ties count half.")
