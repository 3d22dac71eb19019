"""Metrics page sections: version comparison (paired cases, diff, verdict) and the arena leaderboard.

Layout only; untrusted text (answers, inputs, prompts) is shown with st.code / st.dataframe, never HTML.
"""

from __future__ import annotations

import streamlit as st

from lib.compare import case_diff, filter_cases, prompt_diff, verdict
from lib.datasets import to_bytes
from lib.ui import deltas, leaderboard, md_escape
from pages._views import metrics as mv

FILTERS = {"all": "All cases", "changed": "Answer changed", "worse": "Got worse", "better": "Got better"}


def versus_tab(url: str) -> None:
    """Pick two (version, model) sides that ran on the same dataset; diff, verdict, cases."""
    cand = mv.candidates(url)
    if cand.empty:
        st.info("Nothing to compare yet: run a Batch with two prompt versions (or two models) on one dataset.")
        return
    datasets = dict(zip(cand["dataset_id"], cand["dataset"], strict=False))
    ds = st.selectbox("Dataset", list(datasets), format_func=lambda d: datasets[d], key="metrics_vs_dataset")
    sides = cand[cand["dataset_id"] == ds].reset_index(drop=True)
    if len(sides) < 2:
        st.info("Only one version x model ran on this dataset; run another to compare.")
        return
    labels = {i: f"{r.label} ({r.cases} cases)" for i, r in sides.iterrows()}
    c1, c2 = st.columns(2)
    ia = c1.selectbox("A (baseline)", list(labels), format_func=labels.get, index=0, key="metrics_vs_a")
    ib = c2.selectbox("B (candidate)", list(labels), format_func=labels.get, index=1, key="metrics_vs_b")
    a, b = sides.loc[ia], sides.loc[ib]
    if ia == ib:
        st.warning("Pick two different sides.")
        return
    name_a = f"{a['prompt']}:{a['version_number']}" + ("" if a["model"] == b["model"] else f" on {a['model']}")
    name_b = f"{b['prompt']}:{b['version_number']}" + ("" if a["model"] == b["model"] else f" on {b['model']}")
    if a["version_id"] != b["version_id"]:
        diff = prompt_diff(None, int(a["version_id"]), int(b["version_id"]))
        with st.expander(f"Prompt diff: {md_escape(diff.summary())}", expanded=not diff.identical):
            st.code(diff.text or "(identical)", language="diff")
    cases = mv.cases(url, int(ds), (int(a["version_id"]), a["model"]), (int(b["version_id"]), b["model"]))
    if cases.empty:
        st.info("These two sides have no dataset row in common.")
        return
    v = verdict(cases, name_a, name_b)
    box = {"better": st.success, "worse": st.error, "same": st.info}.get(v.outcome, st.warning)
    box(md_escape(v.sentence))
    m = st.columns(4)
    m[0].metric("Cases", f"{v.n:,}", help=f"{v.scored} with a score on both sides")
    m[1].metric("Mean score A", "-" if v.mean_a is None else f"{v.mean_a * 100:.1f}")
    m[2].metric("Mean score B", "-" if v.mean_b is None else f"{v.mean_b * 100:.1f}",
                delta=None if v.diff is None else f"{v.diff.estimate * 100:+.1f} points")
    m[3].metric("Pass rate A -> B", "-" if v.pass_a is None else f"{v.pass_a:.0%} -> {v.pass_b:.0%}")
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
    st.caption(f"{int(lb['votes'].sum() // 2):,} votes. Bradley-Terry ratings on an Elo-like scale "
               "(400 points = 10:1 odds), 95% intervals from resampling votes; ties count half.")
