"""Task presets: each has sane parameters, a renderable starting prompt, and saves as a prompt."""

from __future__ import annotations

import pytest

from lib.db import session_scope
from lib.errors import NotFoundError
from lib.prompts import presets, templating
from tests.actors import ADMIN


def test_every_task_has_a_preset_with_recommended_params():
    keys = [p.key for p in presets.list_presets()]
    assert keys == ["qa", "codegen", "code_review", "summarise"]
    for p in presets.list_presets():
        assert 0.0 <= p.params["temperature"] <= 1.0
        assert 1 <= p.params["max_tokens"] <= 4096
    assert presets.get_preset("codegen").params["temperature"] == 0.0


def test_starting_prompt_renders_with_its_example_values():
    for p in presets.list_presets():
        names = templating.variables(p.message_list())
        assert names and set(names) == set(p.example), p.key
        rendered = templating.render_messages(p.message_list(), p.example)
        assert "{{" not in "".join(m["content"] for m in rendered)


def test_message_list_is_a_copy():
    p = presets.get_preset("qa")
    msgs = p.message_list()
    msgs[0]["content"] = "changed"
    assert p.messages[0]["content"] != "changed"


def test_merged_params_overrides_temperature_and_keeps_others():
    out = presets.merged_params(presets.get_preset("summarise"), {"temperature": 1.5, "top_p": 0.9})
    assert out == {"temperature": 0.3, "max_tokens": 400, "top_p": 0.9}


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(NotFoundError, match="known: qa"):
        presets.get_preset("poetry")


def test_create_from_preset_saves_version_1(engine):
    with session_scope(engine) as s:
        v = presets.create_from_preset(actor=ADMIN, session=s, key="code_review", name="review-bot", model="echo/echo")
        assert v.number == 1
        assert v.params == {"temperature": 0.1, "max_tokens": 1500}
        assert v.variables == ["code"]
        assert v.model == "echo/echo"
