"""Metrics: latency, cost, errors, throughput and quality over every run; version comparison; arena.

Layout only.  Aggregates come from lib.metrics* (SQL GROUP BY, cached for a few seconds);
only the selected tab computes its data (tabs track state and rerun on change).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from lib import metrics
from lib.db import get_engine
from lib.metrics import (
    cost_table,
    reliability,
    tokens_cost,
    totals,
)
from lib.metrics import (
    errors as metrics_runs_errors,
)
from lib.metrics import (
    throughput as metrics_runs_throughput,
)
from lib.ui import (
    batch_rate,
    latency,
    latency_text,
    md_escape,
    percent,
    scores,
    spend,
    stacked,
)
from lib.ui import (
    errors as charts_errors,
)
from lib.ui import (
    rate as charts_rate,
)
from lib.ui import (
    throughput as charts_throughput,
)
from pages._views import metrics as mv
from pages._views import metrics_compare as compare
from pages._views.boot import require_app
from pages._views.run_widgets import spend_metric
from pages._views.version_figures import evaluators_table, figures_table

require_app(__file__)

ss = st.session_state
engine = get_engine()
URL = engine.url.render_as_string(hide_password=False)
TABS = ["Overview", "Latency", "Cost & tokens", "Errors & reliability", "Throughput", "Quality",
        "Compare versions", "Arena"]

st.title("Metrics")
opts = mv.options(URL)
if not opts["has_runs"]:
    st.info("No model calls recorded yet. Every call from the Playground, Compare, a Batch or the CLI is logged "
            "as a run; latency, cost, errors and scores appear here as soon as there is one.",
            icon=":material/monitoring:")
    st.caption("Try: open the Playground and run a prompt on the offline echo endpoint, "
               "or `python -m lib run <prompt> --model echo/echo` on the command line.")
    st.stop()

# ---------------------------------------------------------------- filters
today = datetime.now(UTC).date()
ss.setdefault("metrics_dates", (today - timedelta(days=6), today))
c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
dates = c1.date_input("Dates (UTC)", key="metrics_dates", max_value=today)
versions = dict(opts["versions"])
prompts_sel = c2.multiselect("Prompt", opts["prompts"], key="metrics_prompts", placeholder="All prompts")
version_choices = [vid for vid, label in opts["versions"]
                   if not prompts_sel or label.rsplit(":", 1)[0] in prompts_sel]
if "metrics_versions" in ss:  # a version of a prompt just deselected is no longer a choice
    ss["metrics_versions"] = [v for v in ss["metrics_versions"] if v in version_choices]
versions_sel = c3.multiselect("Version", version_choices, format_func=lambda v: versions.get(v, str(v)),
                              key="metrics_versions", placeholder="All versions")
labels_sel = c4.multiselect("Label", opts["labels"], key="metrics_labels", placeholder="Any label",
                            help="Runs of the versions that carry this label now.")
d1, d2, d3, d4 = st.columns(4)
models_sel = d1.multiselect("Model", opts["models"], key="metrics_models", placeholder="All models")
endpoints_sel = d2.multiselect("Endpoint", opts["endpoints"], key="metrics_endpoints", placeholder="All endpoints")
sources_sel = d3.multiselect("Source", opts["sources"], key="metrics_sources", placeholder="All sources")
users_sel = d4.multiselect("User", opts["actors"], key="metrics_users", placeholder="Everyone",
                           help="Who made the call (a signed-in e-mail, cli:<os user>, token:<name>).")

if isinstance(dates, date):
    start = end = dates
elif isinstance(dates, (tuple, list)) and dates:  # one date while the user is still picking the range
    start, end = dates[0], dates[-1]
else:
    start = end = today
f = metrics.Filters(since=datetime.combine(start, time(), UTC),
                    until=datetime.combine(end + timedelta(days=1), time(), UTC),
                    prompts=prompts_sel, version_ids=versions_sel, labels=labels_sel, models=models_sel,
                    endpoints=endpoints_sel, sources=sources_sel, actors=users_sel)
FKEY = f.key()
GRAIN = metrics.grain_for(f.since, f.until)
# Percentiles need many runs per point: hourly p95 lines over a week are noise, so they go per day.
LAT_GRAIN = "day" if GRAIN == "hour" and f.until - f.since > timedelta(days=2) else GRAIN
st.caption(f"{start:%b %d} - {end:%b %d %Y} UTC, one point per {GRAIN}"
           + (f" (latency percentiles per {LAT_GRAIN})." if LAT_GRAIN != GRAIN else "."))


def _roll(*keys: str):
    roll = mv.rollup(URL, FKEY, GRAIN, tuple(keys))
    as_of = roll.attrs.get("as_of")
    if as_of:
        st.caption(f"Figures as of {datetime.fromisoformat(as_of):%H:%M:%S} UTC "
                   f"(new runs show within {mv.TTL + mv.FRESH_S} s).")
    return roll


def _latency(total: int):
    lat = mv.latency(URL, FKEY, LAT_GRAIN, total)
    if lat.attrs.get("method") == "histogram":
        st.caption("Percentiles from hourly latency histograms (each within 3.5% of the exact value); "
                   "see lib/metrics/hourly.py.")
    elif len(lat) and int(lat["sample_every"].max()) > 1:
        st.caption(f"Percentiles from every {int(lat['sample_every'].max())}th run "
                   f"(about {metrics.SAMPLE_MAX:,} runs ranked); see lib/metrics.py for the error bound.")
    return lat


def overview() -> None:
    roll = _roll("bucket", "model", "status")
    t = totals(roll)
    if not t["calls"]:
        st.info("No runs match these filters. Widen the dates or clear a filter.")
        return
    m = st.columns(5)
    m[0].metric("Calls", f"{t['calls']:,}")
    spend_metric(m[1], "Spend", t["spend_usd"], t["unpriced_calls"], t["calls"])
    spend_metric(m[2], "Cost / 1,000 calls", t["cost_per_1k_calls"], t["unpriced_calls"], t["calls"])
    m[3].metric("Error rate", percent(t["error_rate"]))
    m[4].metric("Mean latency", latency_text(t["mean_latency_ms"]))
    lat = _latency(t["calls"])
    mv.block(latency(lat, LAT_GRAIN), lat, "latency")
    cost = tokens_cost(roll, "model")
    mv.block(stacked(cost, "cost_usd", "model", "Cost by model (USD)", GRAIN, "USD", "$,.4f"), cost,
             "cost_by_model")


def latency_tab() -> None:
    total = totals(_roll("bucket", "model", "status"))["calls"]
    lat = _latency(total)
    mv.block(latency(lat, LAT_GRAIN), lat, "latency_detail")
    mv.block(latency(lat, LAT_GRAIN, prefix="ttft_"), lat.dropna(subset=["ttft_p50_ms"]), "ttft",
             empty="No time-to-first-token recorded (only streamed calls have one).")


def cost_tab() -> None:
    by = st.segmented_control("Break down by", ["model", "version", "endpoint", "source"], default="model",
                              key="metrics_cost_by") or "model"
    key = "version_id" if by == "version" else by
    roll = _roll("bucket", key, "status")
    table = cost_table(roll, by)
    tc = tokens_cost(roll, by)
    mv.block(stacked(tc, "cost_usd", by, f"Cost by {by} (USD)", GRAIN, "USD", "$,.4f"), tc, f"cost_by_{by}")
    mv.block(stacked(tc, "tokens", by, f"Tokens by {by}", GRAIN, "tokens"), tc, f"tokens_by_{by}")
    st.subheader("Totals", divider="gray")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"cost_usd": st.column_config.NumberColumn("cost (USD)", format="$%.4f"),
                                "cost_per_1k_calls": st.column_config.NumberColumn("per 1,000 calls",
                                                                                   format="$%.4f")})
    t = totals(roll)
    st.caption(f"{t['calls']:,} calls, {t['prompt_tokens'] + t['completion_tokens']:,} tokens, "
               f"spend {spend(t['spend_usd'], t['unpriced_calls'], t['calls'])}; "
               f"cost per 1,000 calls {spend(t['cost_per_1k_calls'], t['unpriced_calls'])}"
               + (f"; {t['unpriced_calls']:,} calls without a known price are not in the spend."
                  if t["unpriced_calls"] else "."))


def errors_tab() -> None:
    roll = _roll("bucket", "endpoint", "status", "error_kind")
    t = totals(roll)
    m = st.columns(4)
    m[0].metric("Error rate", percent(t["error_rate"]))
    m[1].metric("HTTP 429s", f"{int(roll['http_429'].sum()) if len(roll) else 0:,}")
    m[2].metric("Retried calls", percent(t["retry_rate"]))
    m[3].metric("Cache hits", percent(t["cache_hit_rate"]))
    err = metrics_runs_errors(roll)
    mv.block(charts_errors(err), err, "errors_by_kind", empty="No errors in this period.")
    rel = reliability(roll, "endpoint")
    mv.block(charts_rate(rel, "error_rate", "endpoint", "Error rate by endpoint", GRAIN), rel, "error_rate")
    mv.block(charts_rate(rel, "retry_rate", "endpoint", "Share of calls retried", GRAIN), rel, "retry_rate")
    mv.block(charts_rate(rel, "cache_hit_rate", "endpoint", "Cache hit rate", GRAIN), rel, "cache_hit_rate")


def throughput_tab() -> None:
    tp = metrics_runs_throughput(_roll("bucket", "source"), GRAIN)
    mv.block(charts_throughput(tp, GRAIN), tp, "throughput")
    st.subheader("Running batches", divider="gray")
    jobs = mv.running(URL)
    if jobs.empty:
        st.caption("No batch is running. While one runs, its requests and tokens per minute show here "
                   "against the endpoint's and the job's limits.")
        return
    labels = {int(r.id): f"#{int(r.id)} {r.name or ''}".strip() for r in jobs.itertuples()}
    job = st.selectbox("Batch", list(labels), format_func=labels.get, key="metrics_batch")
    rate = mv.batch_rate(URL, int(job))
    mv.block(batch_rate(rate, "requests", "rpm_limit"), rate, "batch_requests",
             empty="No requests in the last 30 minutes.")
    mv.block(batch_rate(rate, "tokens", "tpm_limit"), rate, "batch_tokens",
             empty="No requests in the last 30 minutes.")


def quality_tab() -> None:
    scope = st.segmented_control("Quality of", ["runs", "job"], default="runs", key="metrics_quality_scope",
                                 format_func={"runs": "All runs in these filters", "job": "One batch job"}.get)
    if scope == "job":  # the same figures as the Batch page and Compare versions show for this job
        job = compare.pick_job(URL, "metrics_quality_job")
        if job is None:
            st.info("No batch job has finished items yet.")
            return
        cmp = mv.comparison(URL, int(job))
        figures_table(cmp, "metrics_quality")
        evaluators_table(cmp, "metrics_quality")
        return
    sc = mv.scores(URL, FKEY)
    if sc.empty:
        st.info("No scores yet: run a Batch with evaluators, or rate answers in the Playground or Compare.")
        return
    st.caption("Every run in the filters, from any job or screen: pass rate = runs none of whose evaluators "
               "failed (%); mean score = every evaluator score on its 0-1 scale. For one job's figures "
               "(as the Batch page shows them) pick 'One batch job'.")
    mv.block(scores(sc, "pass_rate"), sc, "pass_rate", empty="No evaluator results.")
    mv.block(scores(sc, "mean_score"), sc.dropna(subset=["mean_score"]), "mean_score",
             empty="No evaluator scores.")
    mv.block(scores(sc, "thumbs_up_rate"), sc.dropna(subset=["thumbs_up_rate"]), "ratings",
             empty="No human ratings in this period.")


tabs = st.tabs(TABS, key="metrics_tab", on_change="rerun")
for tab, fn in zip(tabs, (overview, latency_tab, cost_tab, errors_tab, throughput_tab, quality_tab,
                          lambda: compare.versus_tab(URL), lambda: compare.arena_tab(URL)), strict=True):
    with tab:
        if tab.open:
            try:
                fn()
            except Exception as exc:  # one broken chart must not take the page down
                st.error(f"This section failed: {md_escape(type(exc).__name__)}: {md_escape(str(exc)[:300])}")
