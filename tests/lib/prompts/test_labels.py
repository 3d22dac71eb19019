from __future__ import annotations

import pytest
from sqlmodel import Session

from lib import prompts
from lib.errors import NotFoundError, ValidationError
from tests.actors import ADMIN, person

MSGS = [{"role": "user", "content": "v{{n}}"}]


@pytest.fixture
def s(engine):
    with Session(engine, expire_on_commit=False) as session:
        prompts.create_prompt(actor=ADMIN, session=session, name="p", messages=MSGS)
        for i in range(2, 4):
            prompts.save_version(actor=ADMIN, session=session, name="p", messages=[{"role": "user",
                                 "content": f"v{i} {{{{n}}}}"}])
        yield session


def test_promote_history_and_rollback(s):
    prompts.set_label(actor=person("a@x.io"), session=s, name="p", label="production", version=1)
    prompts.set_label(actor=person("b@x.io"), session=s, name="p", label="production", version=3)
    prompts.set_label(actor=ADMIN, session=s, name="p", label="staging", version=2)
    prompts.set_label(actor=ADMIN, session=s, name="p", label="canary-eu", version=2)
    hist = prompts.label_history(session=s, name="p", label="production")
    assert [(e.from_version, e.to_version, e.author) for e in hist] == [(1, 3, "b@x.io"), (None, 1, "a@x.io")]
    prompts.rollback(actor=ADMIN, session=s, name="p", label="production")
    assert prompts.resolve(session=s, ref="p@production").number == 1
    assert prompts.labels_of(session=s, prompt_id=prompts.get_prompt(session=s, name="p").id) == {
        "canary-eu": 2, "production": 1, "staging": 2}


def test_label_errors(s):
    with pytest.raises(NotFoundError, match="no version 7"):
        prompts.set_label(actor=ADMIN, session=s, name="p", label="production", version=7)
    with pytest.raises(ValidationError, match="reserved"):
        prompts.set_label(actor=ADMIN, session=s, name="p", label="latest", version=1)
    with pytest.raises(ValidationError, match="invalid label"):
        prompts.set_label(actor=ADMIN, session=s, name="p", label="Bad Label", version=1)
    with pytest.raises(ValidationError, match="no earlier version"):
        prompts.rollback(actor=ADMIN, session=s, name="p", label="production")
    with pytest.raises(NotFoundError):
        prompts.remove_label(actor=ADMIN, session=s, name="p", label="production")
    prompts.set_label(actor=ADMIN, session=s, name="p", label="staging", version=2)
    prompts.remove_label(actor=ADMIN, session=s, name="p", label="staging")
    with pytest.raises(NotFoundError):
        prompts.resolve(session=s, ref="p@staging")
    assert prompts.label_history(session=s, name="p", label="staging")[0].to_version is None


def test_rollback_target_and_kinds_in_the_history(s):
    """#15 item 14: nothing to roll back to after a first promote; the history says which move was a rollback."""
    assert prompts.rollback_target(session=s, name="p", label="production") is None  # never set
    prompts.set_label(actor=ADMIN, session=s, name="p", label="production", version=1)
    assert prompts.rollback_target(session=s, name="p", label="production") is None  # nothing earlier
    prompts.set_label(actor=ADMIN, session=s, name="p", label="production", version=3)
    assert prompts.rollback_target(session=s, name="p", label="production") == 1
    prompts.rollback(actor=ADMIN, session=s, name="p", label="production")
    prompts.set_label(actor=ADMIN, session=s, name="p", label="staging", version=2)
    prompts.remove_label(actor=ADMIN, session=s, name="p", label="staging")
    hist = prompts.label_history(session=s, name="p")
    assert [(e.label, e.kind, e.from_version, e.to_version) for e in hist] == [
        ("staging", "remove", 2, None), ("staging", "promote", None, 2), ("production", "rollback", 3, 1),
        ("production", "promote", 1, 3), ("production", "promote", None, 1)]


def test_version_diff_by_words(s):
    """#15 item 14: the word-level diff marks the changed words only."""
    prompts.save_version(actor=ADMIN, session=s, name="p", messages=[
        {"role": "user", "content": "Summarise {{ text }} in at most {{ n }} words, as bullet points."}])
    prompts.save_version(actor=ADMIN, session=s, name="p", messages=[
        {"role": "user", "content": "Summarise {{ text }} in {{ n }} words."}])
    a, b = (prompts.get_version(session=s, name="p", number=n) for n in (5, 4))
    d = prompts.diff_versions(a, b)
    assert d.words.splitlines()[-1] == "Summarise {{ text }} in {+at most +}{{ n }} words{+, as bullet points+}."
