"""The one rendering of a version comparison's figures, shared by the Batch results, Metrics Quality and
Metrics Compare versions screens, so the same job shows the same numbers on each (#15 item 6).

Layout only: every figure comes from `lib.compare.compare_versions`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.compare import VersionComparison
from lib.ui import count, latency_text, md_escape, money, percent, score


def figure_text(cmp: VersionComparison, value: float | None) -> str:
    """A figure on the comparison's stated scale: '40.0%' (pass rate) or '0.560' (mean score, 0-1)."""
    return percent(value) if cmp.metric == "pass_rate" else score(value)


def rows(cmp: VersionComparison) -> list[dict[str, str]]:
    """One formatted row per side (what the table shows; tests read it)."""
    return [{"side": r.side, "done": count(r.done), "errors": count(r.errors), "judged": count(r.judged),
             "pass rate": percent(r.pass_rate), "mean score (0-1)": score(r.mean_score),
             "cost": money(r.cost_usd), "mean latency": latency_text(r.mean_latency_ms)}
            for r in cmp.sides.itertuples()]


def figures_table(cmp: VersionComparison, key: str) -> None:
    """What is compared (job, shared rows), on which scale, and the per-side figures."""
    st.caption(md_escape(f"{cmp.note} Scale: {cmp.scale}."))
    st.dataframe(pd.DataFrame(rows(cmp)), hide_index=True, width="stretch", key=f"{key}_figures")


def evaluators_table(cmp: VersionComparison, key: str) -> None:
    """Each evaluator on its own scale, per side."""
    if cmp.evaluators.empty:
        return
    data = [{"evaluator": r.evaluator, "side": r.side, "scale": r.scale, "cases": count(r.n),
             "value": percent(r.value) if r.scale.startswith("pass") else score(r.value)}
            for r in cmp.evaluators.itertuples()]
    with st.expander(f"Per evaluator ({cmp.evaluators['evaluator'].nunique()})"):
        st.dataframe(pd.DataFrame(data), hide_index=True, width="stretch", key=f"{key}_evaluators")
