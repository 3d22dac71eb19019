from __future__ import annotations

import json

import pytest
from sqlmodel import Session, func, select

from lib import prompts
from lib.errors import ConflictError, TemplateError, ValidationError
from lib.models import Prompt
from lib.prompts import exchange as prompt_io
from lib.prompts.diffing import diff_versions
from tests.actors import ADMIN, person


@pytest.fixture
def s(engine):
    with Session(engine, expire_on_commit=False) as session:
        prompts.create_prompt(actor=person("ann@x.io"), session=session, name="p", description="d", tags=["a", "b"],
                              messages=[{"role": "system", "content": "S {{x}}"}, {"role": "user", "content": "U"}],
                              model="echo/echo", params={"temperature": 0.1}, commit_message="one")
        prompts.save_version(actor=person("bob@x.io"), session=session, name="p",
                             messages=[{"role": "user", "content": "U2 {{y}}"}],
                             template_format="jinja2", params={"temperature": 0.5, "seed": 1}, commit_message="two")
        prompts.set_label(actor=ADMIN, session=session, name="p", label="production", version=1)
        prompts.set_label(actor=ADMIN, session=session, name="p", label="production", version=2)
        prompts.set_label(actor=ADMIN, session=session, name="p", label="staging", version=1)
        session.commit()  # the caller commits (lib functions only flush)
        yield session


def _strip_times(d):
    return json.loads(json.dumps(d))


def test_round_trip_is_lossless(s):
    exported = prompt_io.export_prompt(session=s, name="p")
    prompt_io.import_prompt(actor=ADMIN, session=s, data=prompt_io.dumps(exported), name="p2")
    again = prompt_io.export_prompt(session=s, name="p2")
    again["prompt"]["name"] = "p"
    assert _strip_times(again) == _strip_times(exported)
    assert exported["labels"] == {"production": 2, "staging": 1}
    assert [(e["from_version"], e["to_version"]) for e in exported["label_history"]] == [(None, 1), (1, 2), (None, 1)]


def test_import_errors_change_nothing(s):
    # each failed import ends its transaction as a page or route would (session_scope rolls back): lib
    # committed none of it, so no half-imported prompt (the versions before a bad one) stays behind
    exported = prompt_io.export_prompt(session=s, name="p")
    bad_label = json.loads(json.dumps(exported))
    bad_label["labels"]["production"] = 9
    bad_template = json.loads(json.dumps(exported))
    bad_template["versions"][1]["messages"] = [{"role": "user", "content": "{% if %}"}]
    for data, name, error, match in [(exported, None, ConflictError, "already exists"),
                                     ("{nope", "q", ValidationError, "not valid JSON"),
                                     ({"x": 1}, "q", ValidationError, "not a prompt export"),
                                     (bad_label, "q", ValidationError, "version 9"),
                                     (bad_template, "q", TemplateError, None)]:
        with pytest.raises(error, match=match):
            prompt_io.import_prompt(actor=ADMIN, session=s, data=data, name=name)
        s.rollback()
        assert s.exec(select(func.count()).select_from(Prompt)).one() == 1, match


def test_diff(s):
    v1 = prompts.get_version(session=s, name="p", number=1)
    v2 = prompts.get_version(session=s, name="p", number=2)
    d = diff_versions(v1, v2)
    assert d.template_format == ("mustache", "jinja2")
    assert d.params == {"temperature": (0.1, 0.5), "seed": (None, 1)}
    assert [m.status for m in d.messages] == ["changed", "removed"]
    assert "-S {{x}}" in d.messages[0].unified and "+U2 {{y}}" in d.messages[0].unified
    assert d.model == ("echo/echo", None) and not d.identical
    assert "1 message changed" in d.summary() and "format mustache -> jinja2" in d.summary()
    assert diff_versions(v1, v1).identical


@pytest.mark.parametrize("mutate,text", [
    (lambda d: d.update(versions="x"), '"versions" must be a list'),
    (lambda d: d.update(labels=["x"]), '"labels" must be an object'),
    (lambda d: d["prompt"].update(description={"a": 1}), "prompt.description must be text"),
    (lambda d: d["versions"][0].update(params="hot"), r"versions\[0\].params must be an object"),
    (lambda d: d["labels"].update(production="2"), "must point at a version number"),
    (lambda d: d.update(label_history=[3]), r"label_history\[0\] must be an object"),
])
def test_wrongly_shaped_export_is_a_clear_error(s, mutate, text):
    data = json.loads(json.dumps(prompt_io.export_prompt(session=s, name="p")))
    mutate(data)
    with pytest.raises(ValidationError, match=text):
        prompt_io.import_prompt(actor=ADMIN, session=s, data=data, name="q")
    assert s.exec(select(func.count()).select_from(Prompt)).one() == 1


def test_params_must_be_an_object(s):
    with pytest.raises(ValidationError, match="parameters must be a JSON object"):
        prompts.save_version(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "x"}],
                             params=["t"])
    with pytest.raises(ValidationError, match="parameters must be a JSON object"):
        prompts.create_prompt(actor=ADMIN, session=s, name="q", messages=[{"role": "user", "content": "x"}],
                              params="hot")
