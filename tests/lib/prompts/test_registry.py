from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from lib import prompts
from lib.errors import ConflictError, NotFoundError, TemplateError, ValidationError
from lib.models import Prompt, PromptVersion
from tests.actors import ADMIN

MSGS = [{"role": "system", "content": "You help {{ customer_name }}."},
        {"role": "user", "content": "Issue: {{issue_type}}"}]


def _count(s, model):
    return s.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def s(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


def test_create_and_resolve(s):
    v1 = prompts.create_prompt(actor=ADMIN, session=s, name="support", messages=MSGS, tags=["cs"], model="echo/echo",
                               params={"temperature": 0.2}, commit_message="init")
    assert (v1.number, v1.variables, v1.author) == (1, ["customer_name", "issue_type"], ADMIN.label)
    v2, created = prompts.save_version(actor=ADMIN, session=s, name="support", messages=MSGS + [
        {"role": "assistant", "content": "ok"}], commit_message="more")
    assert created and v2.number == 2
    assert prompts.resolve(session=s, ref="support").number == 2
    assert prompts.resolve(session=s, ref="support:1").id == v1.id
    prompts.set_label(actor=ADMIN, session=s, name="support", label="production", version=1)
    assert prompts.resolve(session=s, ref="support@production").number == 1
    assert prompts.resolve(session=s, ref="support@latest").number == 2


def test_identical_content_returns_existing(s):
    prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=MSGS)
    v, created = prompts.save_version(actor=ADMIN, session=s, name="p", messages=MSGS, commit_message="again")
    assert not created and v.number == 1 and _count(s, PromptVersion) == 1
    # a param change is a new version; going back to the old content is another new version
    v2, c2 = prompts.save_version(actor=ADMIN, session=s, name="p", messages=MSGS, params={"temperature": 1})
    v3, c3 = prompts.save_version(actor=ADMIN, session=s, name="p", messages=MSGS)
    assert (c2, c3, v2.number, v3.number) == (True, True, 2, 3)


@pytest.mark.parametrize("ref,err,text", [
    ("nope", NotFoundError, "unknown prompt 'nope'"),
    ("p:9", NotFoundError, "no version 9"),
    ("p@staging", NotFoundError, "no label 'staging'"),
    ("p:x", ValidationError, "expected a number"),
])
def test_bad_refs(s, ref, err, text):
    prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=MSGS)
    with pytest.raises(err, match=text):
        prompts.resolve(session=s, ref=ref)


@pytest.mark.parametrize("messages,err,text", [
    ([], ValidationError, "at least one message"),
    ([{"role": "user", "content": "   "}], ValidationError, "every message is empty"),
    ([{"role": "wizard", "content": "hi"}], ValidationError, "unknown role 'wizard'"),
    ([{"role": "user", "content": 3}], ValidationError, "content must be text"),
    ([{"role": "user", "content": "hi {{ bad name }}"}], TemplateError, "malformed placeholder"),
    ([{"role": "user", "content": "hi {{ name"}], TemplateError, "never closed"),
])
def test_bad_input_changes_nothing(s, messages, err, text):
    prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=MSGS)
    with pytest.raises(err, match=text):
        prompts.create_prompt(actor=ADMIN, session=s, name="q", messages=messages)
    with pytest.raises(err, match=text):
        prompts.save_version(actor=ADMIN, session=s, name="p", messages=messages)
    assert _count(s, Prompt) == 1 and _count(s, PromptVersion) == 1


def test_bad_jinja_template_rejected_on_save(s):
    with pytest.raises(TemplateError, match="jinja2 syntax error"):
        prompts.create_prompt(actor=ADMIN, session=s, name="j", messages=[{"role": "user", "content": "{% for %}"}],
                              template_format="jinja2")
    with pytest.raises(ValidationError, match="unknown template format"):
        prompts.create_prompt(actor=ADMIN, session=s, name="j", messages=MSGS, template_format="handlebars")
    assert _count(s, Prompt) == 0


def test_duplicate_name_and_bad_names(s):
    prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=MSGS)
    with pytest.raises(ConflictError, match="already exists"):
        prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=MSGS)
    for bad in ("", "has space", "a:b", "a@b", "x" * 101):
        with pytest.raises(ValidationError, match="invalid prompt name"):
            prompts.create_prompt(actor=ADMIN, session=s, name=bad, messages=MSGS)
    assert _count(s, Prompt) == 1


def test_list_search_tags_sort_pages(s):
    for i in range(7):
        prompts.create_prompt(actor=ADMIN, session=s, name=f"p{i}", messages=MSGS,
                              tags=["even" if i % 2 == 0 else "odd"],
                              description="about billing" if i == 3 else "")
    rows, total = prompts.list_prompts(session=s, sort="name", page=2, page_size=3)
    assert total == 7 and [r.name for r in rows] == ["p3", "p4", "p5"]
    rows, total = prompts.list_prompts(session=s, tag="odd", sort="name")
    assert total == 3 and [r.name for r in rows] == ["p1", "p3", "p5"]
    rows, total = prompts.list_prompts(session=s, search="BILLING")
    assert [r.name for r in rows] == ["p3"]
    rows, _ = prompts.list_prompts(session=s, sort="updated", page_size=1)
    assert rows[0].name == "p6"
    assert prompts.all_tags(session=s) == ["even", "odd"]
    info = prompts.summaries(session=s, prompt_ids=[r.id for r in rows])
    assert info[rows[0].id] == {"latest": 1, "labels": {}}
    with pytest.raises(ValidationError):
        prompts.list_prompts(session=s, sort="bogus")


def test_archive_restore_and_duplicate(s):
    prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=MSGS)
    prompts.set_archived(actor=ADMIN, session=s, name="p", archived=True)
    assert prompts.list_prompts(session=s)[1] == 0
    assert prompts.list_prompts(session=s, include_archived=True)[1] == 1
    with pytest.raises(ValidationError, match="archived"):
        prompts.save_version(actor=ADMIN, session=s, name="p", messages=MSGS, params={"x": 1})
    assert prompts.resolve(session=s, ref="p").number == 1  # archived prompts still resolve
    prompts.set_archived(actor=ADMIN, session=s, name="p", archived=False)
    copy = prompts.duplicate(actor=ADMIN, session=s, name="p", new_name="p-copy")
    assert copy.number == 1 and copy.messages == MSGS and "copied from p:1" in copy.commit_message


def test_search_and_tag_treat_percent_and_underscore_literally(s):
    # the search box and tag filter built LIKE patterns from user text: '_' matched any
    # character and '%' anything, so "a_b" found "axb" and "100%" found "100 apples"
    prompts.create_prompt(actor=ADMIN, session=s, name="axb", messages=MSGS, tags=["snake_case"],
                          description="100 apples")
    prompts.create_prompt(actor=ADMIN, session=s, name="a_b", messages=MSGS, tags=["snakeXcase"],
                          description="100% sure")
    assert [r.name for r in prompts.list_prompts(session=s, search="a_b")[0]] == ["a_b"]
    assert [r.name for r in prompts.list_prompts(session=s, search="100%")[0]] == ["a_b"]
    assert [r.name for r in prompts.list_prompts(session=s, tag="snake_case")[0]] == ["axb"]
    assert prompts.list_prompts(session=s, search="%")[1] == 1
