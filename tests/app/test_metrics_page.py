"""AppTest of the Metrics page: empty state, every tab with data, filters, comparison and arena."""

from __future__ import annotations

from sqlmodel import Session, select

import lib.models as m
from tests.app.conftest import new_app, texts, values
from tests.lib.compare.test_verdicts import batch_data
from tests.lib.metrics_data import run, standard

PAGE = "pages/metrics.py"


def _open():
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _tab(at, name: str):
    at.session_state["metrics_tab"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _metric(at, label: str) -> str:
    return next(x.value for x in at.metric if x.label == label)


def test_empty_database_shows_help(engine_for_app):
    at = _open()
    assert "No model calls recorded yet" in texts(at)
    assert not at.error and not at.get("vega_lite_chart")


def test_tabs_with_data(engine_for_app):
    with Session(engine_for_app, expire_on_commit=False) as s:
        standard(s)
    at = _open()
    assert not at.error, [e.value for e in at.error]
    assert _metric(at, "Calls") == "104" and _metric(at, "Spend") == "≥ $2.00"  # unknown is never $0
    assert next(x.proto.delta for x in at.metric if x.label == "Spend") == "2 calls unpriced"  # said under it
    assert _metric(at, "Error rate") == "1.0%"
    assert len(at.get("vega_lite_chart")) == 2  # latency and cost
    at = _tab(at, "Latency")
    assert len(at.get("vega_lite_chart")) == 2
    at = _tab(at, "Cost & tokens")
    assert "104 calls" in texts(at) and "2 calls without a known price" in texts(at)
    at = _tab(at, "Errors & reliability")
    assert _metric(at, "HTTP 429s") == "1"
    at = _tab(at, "Throughput")
    assert "No batch is running" in texts(at)
    at = _tab(at, "Quality")
    assert "No scores yet" in texts(at)
    at = _tab(at, "Arena")
    assert "No arena votes yet" in texts(at)


def test_filters_and_table_view(engine_for_app):
    with Session(engine_for_app, expire_on_commit=False) as s:
        standard(s)
    at = _open()
    at.multiselect(key="metrics_models").select("B").run()
    assert _metric(at, "Calls") == "4" and _metric(at, "Error rate") == "25.0%"
    at.segmented_control(key="metrics_view_latency").set_value("Table").run()
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["anthropic/B"] and table["p95_ms"].tolist() == [40.0]
    at.multiselect(key="metrics_sources").select("playground").run()
    assert "No runs match these filters" in texts(at)
    at.multiselect(key="metrics_models").set_value([])
    at.multiselect(key="metrics_sources").set_value([]).run()
    at.multiselect(key="metrics_versions").set_value([2]).run()
    assert _metric(at, "Calls") == "4"
    at.multiselect(key="metrics_prompts").select("greet").run()  # still a choice: kept
    assert _metric(at, "Calls") == "4"


def test_user_filter_and_freshness(engine_for_app):
    """#12: Metrics filters by who made the call (from the rollup), and says how fresh its figures are."""
    with Session(engine_for_app, expire_on_commit=False) as s:
        vs = standard(s)
        s.add_all([run(vs[0], model="A", actor="ana@acme.com") for _ in range(3)] + [run(vs[0], actor="cli:bo")])
        s.commit()
    at = _open()
    assert _metric(at, "Calls") == "108"
    assert any(t.startswith("Figures as of ") for t in values(at.caption))
    assert at.multiselect(key="metrics_users").options == ["ana@acme.com", "cli:bo"]
    at.multiselect(key="metrics_users").select("ana@acme.com").run()
    assert _metric(at, "Calls") == "3"
    at.multiselect(key="metrics_users").select("cli:bo").run()
    assert _metric(at, "Calls") == "4"
    at = _tab(at, "Cost & tokens")
    assert "4 calls" in texts(at)


def test_compare_versions_and_arena(engine_for_app):
    with Session(engine_for_app, expire_on_commit=False) as s:
        batch_data(s, [0.5] * 40, [0.56] * 40, outputs_b=["changed"] * 3 + [f"answer {i}" for i in range(3, 40)])
    with Session(engine_for_app) as s:
        r1, r2 = s.exec(select(m.Run).order_by(m.Run.id).limit(41)).all()[0::40]
        s.add_all([m.ArenaVote(run_a_id=r2.id, run_b_id=r1.id, winner="a") for _ in range(6)]
                  + [m.ArenaVote(run_a_id=r2.id, run_b_id=r1.id, winner="b")])
        s.commit()
    at = _open()
    at = _tab(at, "Compare versions")
    assert values(at.success) == ["greet:2 on openai/gpt-x better than greet:1 on openai/gpt-x: mean score (0-1 scale) "
                                  "+0.060, 95% CI +0.060..+0.060"]
    assert "Prompt diff" in at.expander[0].label
    at.segmented_control(key="metrics_vs_filter").set_value("changed").run()
    assert "3 of 40 cases" in texts(at)
    assert "[-answer 0-]{+changed+}" in [c.value for c in at.main.code]
    at = _tab(at, "Quality")
    assert len(at.get("vega_lite_chart")) >= 2
    at = _tab(at, "Arena")
    assert "7 votes" in texts(at)
    at.segmented_control(key="metrics_view_arena_version_model").set_value("Table").run()
    lb = at.dataframe[0].value
    assert lb["player"].tolist()[0].startswith("greet:2") and lb["votes"].tolist() == [7, 7]
