"""Metrics page helpers: cached lib calls, the chart block (chart or table, CSV download), formatting.

Layout only: every figure comes from lib.metrics*, lib.versus and lib.arena.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib import metrics
from lib.compare import VersionComparison, comparable_jobs, compare_versions
from lib.compare import leaderboard as arena_leaderboard
from lib.compare import vote_count as arena_vote_count
from lib.datasets import to_bytes
from lib.db import get_engine
from lib.metrics import batch_rate as metrics_runs_batch_rate
from lib.metrics import running_batches
from lib.metrics import scores as metrics_scores_scores

TTL = 30  # seconds: new runs show up within half a minute; widget reruns reuse the aggregates
FRESH_S = 5  # one rollup refresh serves every chart of a page run (the page says "figures as of")


def filters_from_key(key: tuple) -> metrics.Filters:
    """Rebuild a Filters from its hashable key (cached functions take the key)."""
    return metrics.Filters.from_key(key)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def options(url: str) -> dict:
    """Filter choices."""
    return metrics.options(get_engine(url))


@st.cache_data(ttl=TTL, max_entries=64, show_spinner="Aggregating runs...")
def rollup(url: str, fkey: tuple, grain: str, keys: tuple[str, ...]) -> pd.DataFrame:
    """Grouped run totals (see lib.metrics.rollup)."""
    return metrics.rollup(get_engine(url), filters_from_key(fkey), grain, keys=keys, fresh_s=FRESH_S)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Computing percentiles...")
def latency(url: str, fkey: tuple, grain: str, total: int) -> pd.DataFrame:
    """p50/p95 latency and TTFT per bucket and model."""
    return metrics.latency(get_engine(url), filters_from_key(fkey), grain, total=total, fresh_s=FRESH_S)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def scores(url: str, fkey: tuple) -> pd.DataFrame:
    """Pass rate, mean score and ratings per version x model."""
    return metrics_scores_scores(get_engine(url), filters_from_key(fkey))


@st.cache_data(ttl=5, max_entries=16, show_spinner=False)
def batch_rate(url: str, job_id: int) -> pd.DataFrame:
    """A running batch's per-minute requests and tokens (short TTL: it is live)."""
    return metrics_runs_batch_rate(get_engine(url), job_id)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def running(url: str) -> pd.DataFrame:
    """Running batch jobs."""
    return running_batches(get_engine(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def jobs(url: str) -> pd.DataFrame:
    """Batch jobs with finished items (the comparison's job picker)."""
    return comparable_jobs(get_engine(url))


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def comparison(url: str, job_id: int, other_job_id: int | None = None) -> VersionComparison:
    """A job's (or two jobs' shared rows') figures on one scale (see lib.compare.versions)."""
    return compare_versions(get_engine(url), job_id, other_job_id)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Pairing cases...")
def paired(url: str, job_id: int, other_job_id: int | None, a: str, b: str):
    """Cases two sides both answered and the verdict, on the comparison's scale."""
    return comparison(url, job_id, other_job_id).pair(get_engine(url), a, b)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner="Fitting ratings...")
def leaderboard(url: str, by: str) -> pd.DataFrame:
    """Arena leaderboard."""
    return arena_leaderboard(get_engine(url), by=by)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def vote_count(url: str, by: str) -> int:
    """How many votes the arena leaderboard rests on (one per person's judgement, not per pair)."""
    return arena_vote_count(get_engine(url), by=by)


def block(chart, data: pd.DataFrame, name: str, empty: str = "No data for these filters.") -> None:
    """A chart with a Chart/Table switch and a CSV download of exactly the charted data."""
    if data is None or data.empty:
        st.caption(empty)
        return
    left, right = st.columns([4, 1], vertical_alignment="center")
    view = left.segmented_control(f"View of {name}", ["Chart", "Table"], default="Chart",
                                  key=f"metrics_view_{name}", label_visibility="collapsed")
    right.download_button("CSV", data=to_bytes(data, "csv"), file_name=f"{name}.csv", mime="text/csv",
                          key=f"metrics_csv_{name}", on_click="ignore", icon=":material/download:")
    if view == "Table":
        st.dataframe(data, hide_index=True, width="stretch")
    else:
        st.altair_chart(chart, width="stretch")
