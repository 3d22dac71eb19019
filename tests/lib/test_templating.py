from __future__ import annotations

import time

import pytest

from lib import templating as t
from lib.errors import MissingVariablesError, TemplateError

MSGS = [{"role": "system", "content": "Hi {{ customer.name }}, plan {{plan}}"},
        {"role": "user", "content": "{{ issue }} / {{plan}} \\{{literal}}"}]


def test_variables_in_order_of_appearance():
    assert t.variables(MSGS) == ["customer.name", "plan", "issue"]
    jin = [{"role": "user", "content": "{% for i in items %}{{ i }}{% endfor %} {{ zeta }} {{ alpha.b }}"}]
    assert t.variables(jin, "jinja2") == ["items", "zeta", "alpha"]


def test_render_single_pass_and_nested():
    out = t.render_messages(MSGS, {"customer": {"name": "Ann"}, "plan": "{{issue}}", "issue": "{{plan}}"})
    assert out == [{"role": "system", "content": "Hi Ann, plan {{issue}}"},
                   {"role": "user", "content": "{{plan}} / {{issue}} {{literal}}"}]
    assert t.render_messages([{"role": "user", "content": "{{a}} {{b}} {{c.0}}"}],
                             {"a": 3, "b": {"k": [1]}, "c": ["x"]})[0]["content"] == '3 {"k": [1]} x'


def test_missing_names_every_variable_and_unused_is_a_warning():
    with pytest.raises(MissingVariablesError) as exc:
        t.render_messages(MSGS, {"plan": "x"})
    assert exc.value.missing == ["customer.name", "issue"]
    assert "customer.name, issue" in str(exc.value)
    assert t.unused(MSGS, {"plan": 1, "customer": {}, "issue": 1, "extra": 2}) == ["extra"]


def test_malformed_mustache():
    for bad, text in [("{{ a b }}", "malformed"), ("{{ }}", "malformed"), ("{{ a", "never closed"),
                      ("{{ 1x }}", "malformed")]:
        with pytest.raises(TemplateError, match=text):
            t.variables([{"role": "user", "content": bad}])


def test_jinja_renders_with_strict_undefined():
    msgs = [{"role": "user", "content": "{% for x in items %}{{ x|upper }},{% endfor %}{{ who.name }}"}]
    assert t.render_messages(msgs, {"items": ["a", "b"], "who": {"name": "Z"}}, "jinja2")[0]["content"] == "A,B,Z"
    with pytest.raises(TemplateError, match="no attribute"):
        t.render_messages([{"role": "user", "content": "{{ who.age }}"}], {"who": {}}, "jinja2")
    with pytest.raises(MissingVariablesError):
        t.render_messages(msgs, {}, "jinja2")


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ (''|attr('__class__')|attr('__mro__')) }}",
    "{{ range(10**9)|list }}",
    "{{ 'a' * 10**9 }}",
    "{{ 2 ** 99999999 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}xx{% endfor %}{% endfor %}",
    "{{ x.__init__.__globals__ }}",
    "{% set l = [] %}{{ l.append(1) }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_fail_fast(template, tmp_path):
    start = time.monotonic()
    values = {"x": tmp_path, "cycler": object(), "lipsum": object()}
    with pytest.raises(TemplateError):
        t.render_messages([{"role": "user", "content": template}], values, "jinja2")
    assert time.monotonic() - start < 1.0
    assert list(tmp_path.iterdir()) == []


def test_value_is_never_reparsed_in_jinja():
    out = t.render_messages([{"role": "user", "content": "{{ v }}"}], {"v": "{{ 7*7 }}"}, "jinja2")
    assert out[0]["content"] == "{{ 7*7 }}"
