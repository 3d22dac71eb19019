"""Run listing filters: the free-text search."""

from __future__ import annotations

from sqlmodel import Session

from lib.models import Run
from lib.runs import queries as runs


def _add(s, content, output="", variables=None):
    s.add(Run(messages=[{"role": "user", "content": content}], output=output, variables=variables or {}))


def test_search_is_literal_and_finds_non_ascii_and_quotes_in_json_columns(engine):
    with Session(engine) as s:
        _add(s, "plain", output="rate 100% sure")
        _add(s, "plain", output="rate 100 apples")
        _add(s, "un café s'il vous plaît", variables={"who": "Zoë"})
        _add(s, 'he said "stop" twice')
        s.commit()
        # '%' and '_' typed in the search box are literal text, not LIKE wildcards
        assert [r.output for r in runs.list_runs(session=s, search="100%")[0]] == ["rate 100% sure"]
        assert runs.list_runs(session=s, search="rate_")[1] == 0
        # messages/variables are JSON text (\u00e9, \"): the search still finds what the user sees
        assert runs.list_runs(session=s, search="café")[1] == 1
        assert runs.list_runs(session=s, search="zoë")[1] == 1
        assert runs.list_runs(session=s, search='said "stop"')[1] == 1
