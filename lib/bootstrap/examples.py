"""Example prompts seeded on first start, matching the CSV files in data/examples/."""

from __future__ import annotations

from sqlmodel import Session, select

from lib.datasets import import_dataset
from lib.identity import PROMPT_WRITE, Identity, require
from lib.models import Prompt
from lib.prompts import create_prompt, save_version, set_archived, set_label
from lib.settings import ROOT

EXAMPLES: list[dict] = [
    {
        "name": "support-reply",
        "description": "Reply to a customer support ticket. Fits data/examples/support_tickets.csv.",
        "tags": ["support", "example"],
        "messages": [
            {"role": "system", "content": "You are a friendly, concise support agent for Acme Cloud. "
                                          "Never promise refunds; offer next steps."},
            {"role": "user", "content": "Customer: {{customer_name}}\nIssue type: {{issue_type}}\n\n"
                                        "Their message:\n{{message}}\n\nWrite a reply under 120 words."},
        ],
        "params": {"temperature": 0.3, "max_tokens": 300},
        "label": "production",
    },
    {
        "name": "code-review",
        "description": "Review a code snippet. Fits data/examples/code_snippets.csv.",
        "tags": ["code", "example"],
        "messages": [
            {"role": "user", "content": "Review this {{language}} code. List bugs first, then style issues, "
                                        "each with a one-line fix.\n\n```{{language}}\n{{code}}\n```"},
        ],
        "params": {"temperature": 0.2, "max_tokens": 600},
    },
    {
        "name": "summarise",
        "description": "Summarise an article. Fits data/examples/articles.csv.",
        "tags": ["summarisation", "example"],
        "messages": [
            {"role": "user", "content": "Summarise the following text in at most {{max_words}} words.\n\n{{text}}"},
        ],
        "params": {"temperature": 0.3, "max_tokens": 200},
    },
    {
        "name": "translate",
        "description": "Translate with a system message. Fits data/examples/translations.csv.",
        "tags": ["example"],
        "messages": [
            {"role": "system", "content": "You are a professional translator. Translate the user's text into "
                                          "{{target_language}}. Output only the translation."},
            {"role": "user", "content": "{{text}}"},
        ],
        "params": {"temperature": 0},
    },
]


def seed_examples(*, session: Session, actor: Identity, force: bool = False) -> list[str]:
    """Create the example prompts when the registry is empty (or, with force, any that are missing)."""
    if not force and session.exec(select(Prompt.id).limit(1)).first() is not None:
        return []
    created = []
    for ex in EXAMPLES:
        if session.exec(select(Prompt.id).where(Prompt.name == ex["name"])).first() is not None:
            continue
        create_prompt(session=session, actor=actor, name=ex["name"], messages=ex["messages"],
                      description=ex["description"],
                      tags=ex["tags"], model="echo/echo", params=ex["params"], commit_message="example prompt")
        if ex.get("label"):
            set_label(session=session, actor=actor, name=ex["name"], label=ex["label"], version=1)
        created.append(ex["name"])
    return created


EXAMPLE_DIR = ROOT / "data" / "examples"


def seed_example_datasets(*, session: Session, actor: Identity) -> list[str]:
    """Import the example CSVs as datasets (names = file stems) so Batch has data on a fresh install."""
    names = []
    for path in sorted(EXAMPLE_DIR.glob("*.csv")):
        ds = import_dataset(session=session, actor=actor, data=path.read_bytes(), filename=path.name, name=path.stem)
        names.append(ds.name)
    session.flush()
    return names


def reset_examples(*, session: Session, actor: Identity) -> list[str]:
    """Put every example back as it shipped: missing ones are recreated, changed ones get a new version
    with the original content, archived ones are restored. Nothing the user made is deleted."""
    require(actor, PROMPT_WRITE)
    touched = seed_examples(session=session, actor=actor, force=True)
    for ex in EXAMPLES:
        if ex["name"] in touched:
            continue
        p = session.exec(select(Prompt).where(Prompt.name == ex["name"])).one()
        was_archived = p.archived
        if was_archived:
            set_archived(session=session, actor=actor, name=ex["name"], archived=False)
        _, created = save_version(session=session, actor=actor, name=ex["name"], messages=ex["messages"],
                                  model="echo/echo", params=ex["params"], commit_message="reset to example")
        if created or was_archived:
            touched.append(ex["name"])
    return touched
