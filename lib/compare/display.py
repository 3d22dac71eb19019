"""What the Compare screen shows of one comparison, in display order, with blind mode applied in one place.

While a blind comparison has no vote, nothing that tells the columns apart leaves this module: titles are
"Answer A", "Answer B", ... in the shuffled order, there are no labels, no fastest/cheapest marks, and the
page is told to show no per-card metrics or run numbers (`hidden`).  After the vote the real labels return.

Transactions: reads only; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from .live import blind_name, column_labels, get_comparison, runs_of
from .votes import mark_best, votes_of


@dataclass
class ComparisonDisplay:
    """One comparison ready to draw: cards in display order and what may be shown of them."""

    compare_id: str
    blind: bool
    hidden: bool  # blind and not voted yet: show answers only
    variables: dict[str, Any]
    positions: list[int]  # display position -> column index
    titles: list[str]  # per display position
    runs: list[Any]  # per display position (detached Run rows or None)
    marks: dict[int, tuple[str, ...]] = field(default_factory=dict)  # display position -> ("fastest", ...)

    @property
    def run_ids(self) -> list[int]:
        """Ids of the runs that exist, in display order."""
        return [r.id for r in self.runs if r is not None]


def comparison_display(*, session: Session, compare_id: str) -> ComparisonDisplay:
    """The comparison `compare_id` as the screen shows it (blind names until the vote)."""
    row = get_comparison(session=session, compare_id=compare_id)
    runs = runs_of(session=session, comparison=row)
    for r in runs:
        if r is not None:
            session.expunge(r)
    n = len(row.columns)
    voted = bool(votes_of(session=session, compare_id=row.id))
    hidden = bool(row.blind) and not voted
    positions = list(row.order or range(n)) if row.blind else list(range(n))
    names = [blind_name(p) for p in range(n)]
    if hidden:
        titles, marks = names, {}
    else:
        labels = column_labels(session=session, comparison=row)
        titles = [f"{names[p]}: {labels[i]}" if row.blind else labels[i] for p, i in enumerate(positions)]
        by_column = mark_best(runs)
        marks = {p: tuple(k for k, cols in by_column.items() if i in cols) for p, i in enumerate(positions)}
    return ComparisonDisplay(compare_id=row.id, blind=bool(row.blind), hidden=hidden,
                             variables=dict(row.variables or {}), positions=positions, titles=titles,
                             runs=[runs[i] for i in positions], marks=marks)
