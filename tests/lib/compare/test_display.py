"""What the Compare screen may show: blind comparisons reveal nothing that tells the columns apart until a vote."""

from __future__ import annotations

import random

from lib import prompts
from lib.compare import ColumnSpec, comparison_display, record_vote
from lib.compare.live import create_comparison
from lib.db import session_scope
from lib.models import Comparison, Run
from tests.actors import ADMIN


def _comparison(s, blind: bool) -> Comparison:
    v1 = prompts.create_prompt(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                               "content": "Hi {{who}}"}])
    v2, _ = prompts.save_version(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                                 "content": "Hey {{who}}"}])
    row = create_comparison(actor=ADMIN, session=s, columns=[ColumnSpec(v1.id, "echo/echo"), ColumnSpec(v2.id,
                            "x/priced")],
                            variables={"who": "Ada"}, blind=blind, rng=random.Random(1))
    runs = [Run(source="compare", endpoint="echo", model="echo", output="a", latency_ms=10, compare_id=row.id),
            Run(source="compare", endpoint="x", model="priced", output="b", latency_ms=900, cost_usd=0.01,
                compare_id=row.id)]
    s.add_all(runs)
    s.flush()
    row.run_ids = [r.id for r in runs]
    s.add(row)
    s.commit()
    return row


def test_blind_shows_shuffled_names_only_until_the_vote(engine):
    with session_scope(engine) as s:
        row = _comparison(s, blind=True)
        d = comparison_display(session=s, compare_id=row.id)
        assert d.hidden and d.titles == ["Answer A", "Answer B"] and d.marks == {}
        assert [r.id for r in d.runs] == [row.run_ids[i] for i in row.order]  # display order is the shuffle
        record_vote(actor=ADMIN, session=s, compare_id=row.id, run_ids=row.run_ids, winner_run_id=row.run_ids[0])
        s.commit()
        after = comparison_display(session=s, compare_id=row.id)
        assert not after.hidden and all(t.startswith(("Answer A: greet:", "Answer B: greet:")) for t in after.titles)
        fast = after.positions.index(0)
        assert "fastest" in after.marks[fast]


def test_a_normal_comparison_shows_labels_and_marks(engine):
    with session_scope(engine) as s:
        row = _comparison(s, blind=False)
        d = comparison_display(session=s, compare_id=row.id)
        assert not d.hidden and d.titles[0].startswith("greet:1 · echo/echo") and d.titles[1].startswith("greet:2")
        assert d.marks[0] == ("fastest",)
