"""Metrics filters: what the Metrics page (and CLI) restricts runs to (`Filters`), and `where_sql()`, the
SQL WHERE clause over `run` that a Filters stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, select, true

from lib.models import Label, Prompt, Run


@dataclass
class Filters:
    """What the Metrics page (and CLI) restricts runs to; empty lists mean 'all'."""

    since: datetime | None = None
    until: datetime | None = None
    prompts: list[str] = field(default_factory=list)
    version_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)  # who made the call (Run.actor: an e-mail, cli:ana, token:x)

    def key(self) -> tuple:
        """A hashable identity (for caching); `Filters.from_key` reverses it."""
        return (self.since, self.until, *(tuple(x) for x in (self.prompts, self.version_ids, self.labels,
                                                             self.models, self.endpoints, self.sources, self.actors)))

    @classmethod
    def from_key(cls, key: tuple) -> Filters:
        """The Filters a `key()` came from."""
        since, until, *lists = key
        return cls(since, until, *(list(x) for x in lists))


def where_sql(f: Filters):
    """The WHERE clause of a Filters."""
    conds = []
    if f.since is not None:
        conds.append(Run.created_at >= f.since)
    if f.until is not None:
        conds.append(Run.created_at < f.until)
    if f.prompts:
        conds.append(Run.prompt_id.in_(select(Prompt.id).where(Prompt.name.in_(f.prompts))))
    if f.version_ids:
        conds.append(Run.version_id.in_(f.version_ids))
    if f.labels:
        conds.append(Run.version_id.in_(select(Label.version_id).where(Label.name.in_(f.labels))))
    if f.models:
        conds.append(Run.model.in_(f.models))
    if f.endpoints:
        conds.append(Run.endpoint.in_(f.endpoints))
    if f.sources:
        conds.append(Run.source.in_(f.sources))
    if f.actors:
        conds.append(Run.actor.in_(f.actors))
    return and_(true(), *conds)
