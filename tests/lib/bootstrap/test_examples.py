from __future__ import annotations

import csv
from pathlib import Path

from sqlmodel import Session

from lib import prompts
from lib.bootstrap import launch as bootstrap
from lib.bootstrap.examples import EXAMPLES
from lib.db import session_scope
from lib.prompts import templating
from lib.settings import ROOT, get_settings
from tests.actors import ADMIN


def test_startup_seeds_once_and_examples_fit_their_csv(engine, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SEED_EXAMPLES", "1")
    get_settings.cache_clear()
    assert sorted(bootstrap.startup(engine)["seeded"]) == sorted(e["name"] for e in EXAMPLES)
    assert bootstrap.startup(engine)["seeded"] == []
    with Session(engine) as s:  # the example CSVs are stored datasets, once
        from lib.datasets.store import list_datasets

        assert sorted(d.name for d in list_datasets(session=s)) == [
            "articles", "code_snippets", "support_tickets", "translations"]
    files = {"support-reply": "support_tickets.csv", "code-review": "code_snippets.csv",
             "summarise": "articles.csv", "translate": "translations.csv"}
    with Session(engine) as s:
        assert prompts.resolve(session=s, ref="support-reply@production").number == 1
        assert any(m["role"] == "system" for m in prompts.resolve(session=s, ref="translate").messages)
        for name, fname in files.items():
            v = prompts.resolve(session=s, ref=name)
            with open(Path(ROOT, "data", "examples", fname), newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            assert rows and set(v.variables) <= set(rows[0])
            for row in rows:
                templating.render(v, row)  # every row renders
        assert "customer_name" in prompts.resolve(session=s, ref="support-reply").variables


def test_reset_examples_restores_without_deleting(engine, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SEED_EXAMPLES", "1")
    get_settings.cache_clear()
    bootstrap.startup(engine)
    with session_scope(engine) as s:
        prompts.save_version(actor=ADMIN, session=s, name="summarise", messages=[{"role": "user",
                             "content": "changed"}])
        prompts.set_archived(actor=ADMIN, session=s, name="code-review", archived=True)
        prompts.create_prompt(actor=ADMIN, session=s, name="mine", messages=[{"role": "user", "content": "x"}])
    touched = bootstrap.reset_examples(engine, actor=ADMIN)
    assert sorted(touched) == ["code-review", "summarise"]
    with Session(engine) as s:
        v = prompts.resolve(session=s, ref="summarise")
        assert v.number == 3 and "{{max_words}}" in v.messages[0]["content"]
        assert not prompts.get_prompt(session=s, name="code-review").archived
        assert prompts.prompt_exists(session=s, name="mine")
