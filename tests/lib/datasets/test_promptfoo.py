"""`python -m lib import promptfoo`: configs in the shapes promptfoo's docs show, then `batch run` on them."""

from __future__ import annotations

import json
import textwrap

from typer.testing import CliRunner

from lib.cli.app import build
from lib.client.model_client import reset_clients
from lib.datasets import get_dataset, get_rows, import_promptfoo
from lib.db import session_scope
from lib.prompts import list_versions
from tests.actors import ADMIN

runner = CliRunner()


def cli(*args):
    return runner.invoke(build(), [str(a) for a in args])


def teardown_function(_fn):
    reset_clients()


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_getting_started_shape_imports_and_runs(engine, tmp_path, fake_server):
    """Inline prompts, an OpenAI-compatible apiBaseUrl provider, inline tests with asserts, defaultTest."""
    cfg = _write(tmp_path / "promptfooconfig.yaml", f"""
        description: Translation
        prompts:
          - 'Convert this English to {{{{language}}}}: {{{{input}}}}'
          - 'Translate to {{{{language}}}}: {{{{input}}}}'
        providers:
          - id: openai:chat:my-model
            label: local
            config:
              apiBaseUrl: {fake_server.url}/v1
              temperature: 0.2
          - echo
        defaultTest:
          vars:
            language: French
          assert:
            - type: icontains
              value: '{{{{input}}}}'
        tests:
          - vars:
              input: Hello world
            assert:
              - type: contains
                value: Hello
          - description: German case
            vars:
              language: German
              input: [Good morning, How are you]
            assert:
              - type: javascript
                value: output.length > 3
              - type: not-contains
                value: Bonjour
    """)
    r = cli("import", "promptfoo", cfg, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["prompt"] == "translation" and out["versions"] == [1, 2]
    assert out["models"] == ["local/my-model", "echo/echo"] and out["endpoints_created"] == ["local"]
    assert out["rows"] == 3  # the list-valued var expands into two cases
    assert "warning: not imported: tests: case 2 assert 1: assertion type 'javascript'" in r.stderr
    with session_scope(engine) as s:
        versions = list_versions(session=s, name="translation")
        assert versions[0].messages == [{"role": "user", "content": "Convert this English to {{language}}: {{input}}"}]
        assert versions[0].model_overrides == {"local/my-model": {"temperature": 0.2}}
        rows = get_rows(session=s, dataset_id=get_dataset(
            session=s, ref="translation").id)
        assert [r.data for r in rows] == [{"language": "French", "input": "Hello world"},
                                          {"language": "German", "input": "Good morning"},
                                          {"language": "German", "input": "How are you"}]
        assert [a["type"] for a in rows[1].asserts] == ["icontains", "contains"]
        assert rows[1].asserts[1]["negate"] is True and rows[1].description == "German case"
    r = cli("batch", "run", "--dataset", "translation", "--prompt", "translation:1", "--prompt", "translation:2",
            "--model", "local/my-model", "--model", "echo/echo", "--fail-under", "1", "--json")
    assert r.exit_code == 0, r.output
    final = json.loads(r.stdout.strip().splitlines()[-1])
    assert final["counts"]["done"] == 12 and final["gate"]["pass_rate"] == 1.0
    sent = [q.body for q in fake_server.requests if q.path == "/v1/chat/completions"]
    assert len(sent) == 6 and all(b["model"] == "my-model" and b["temperature"] == 0.2 for b in sent)


def test_prompt_files_chat_json_and_csv_tests(engine, tmp_path):
    """file:// prompts (.txt with --- separators, chat .json), CSV tests with __expected, a YAML tests file."""
    _write(tmp_path / "prompts" / "two.txt", """
        Summarize: {{content}}
        ---
        TL;DR {{content}}
    """)
    (tmp_path / "prompts" / "chat.json").write_text(json.dumps([
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "{{content}}"}]))
    _write(tmp_path / "tests.csv", """
        content,__expected,__description
        apples are red,contains:apples,fruit
        the sky,icontains:SKY,
    """)
    (tmp_path / "cases.jsonl").write_text(json.dumps({"vars": {"content": "rain"}, "assert": [
        {"type": "icontains", "value": "RAIN"}], "description": "weather"}) + "\n", encoding="utf-8")
    _write(tmp_path / "more.yaml", """
        - vars: {content: grass}
          assert: [{type: icontains, value: GRASS}]
    """)
    cfg = _write(tmp_path / "sub" / "promptfooconfig.yaml", """
        prompts:
          - file://../prompts/two.txt
          - id: file://../prompts/chat.json
            label: chat
        providers: [echo, vertex:gemini-2.0-flash-exp]
        tests:
          - file://../tests.csv
          - file://../cases.jsonl
          - file://../more.yaml
    """)
    with session_scope(engine) as s:
        rep = import_promptfoo(session=s, actor=ADMIN, path=cfg, name="Summaries")
        s.commit()
        assert rep.runnable and rep.prompt == "summaries" and rep.versions == [1, 2, 3] and rep.rows == 4
        assert any("vertex:gemini-2.0-flash-exp" in u for u in rep.unsupported)
        versions = list_versions(session=s, name="summaries")
        assert versions[0].messages[0]["content"] == "Summarize: {{content}}"
        assert versions[1].messages[0]["content"] == "TL;DR {{content}}"
        assert versions[2].messages[0] == {"role": "system", "content": "You are terse."}
        assert versions[2].commit_message == "promptfoo: chat"
    r = cli("batch", "run", "--dataset", "summaries", "--prompt", "summaries:3", "--model", "echo/echo",
            "--fail-under", "1", "--json")
    assert r.exit_code == 0, r.output


def test_nunjucks_prompt_becomes_jinja2_and_rubric_gets_the_judge(engine, tmp_path):
    cfg = _write(tmp_path / "promptfooconfig.yaml", """
        prompts:
          - '{% if formal %}Dear {{ name | upper }}{% endif %} hello'
        providers: [echo]
        defaultTest:
          options:
            provider: echo
          assert:
            - type: llm-rubric
              value: is polite
        tests:
          - vars: {formal: "yes", name: ann}
    """)
    with session_scope(engine) as s:
        rep = import_promptfoo(session=s, actor=ADMIN, path=cfg)
        assert rep.runnable and rep.judge_model == "echo/echo" and not rep.needs_judge
        v = list_versions(session=s, name=rep.prompt)[0]
        assert v.template_format == "jinja2"
        row = get_rows(session=s, dataset_id=get_dataset(
            session=s, ref=rep.dataset).id)[0]
        assert row.asserts == [{"type": "judge", "value": "is polite", "model": "echo/echo"}]


def test_nothing_runnable_exits_2_and_stores_nothing(engine, tmp_path):
    cfg = _write(tmp_path / "promptfooconfig.yaml", """
        prompts:
          - file://prompt.py:create_prompt
        providers:
          - file://provider.py
          - exec: python chain.py
        tests:
          - vars: {q: hi}
        scenarios: []
    """)
    r = cli("import", "promptfoo", cfg)
    assert r.exit_code == 2, r.output
    assert "nothing runnable is left" in r.stderr and "no prompt could be imported" in r.stderr
    assert "warning: not imported: scenarios: not imported" in r.stderr
    assert "file://provider.py" in r.stderr
    assert json.loads(cli("prompts", "list", "--json").stdout)["items"] == []
    assert all(d["name"] != "promptfooconfig" for d in json.loads(cli("datasets", "list", "--json").stdout))


def test_unsupported_parts_warn_but_exit_0(engine, tmp_path):
    cfg = _write(tmp_path / "promptfooconfig.yaml", """
        prompts: ['Q: {{q}}']
        providers:
          - id: openai:gpt-4o-mini
            config: {apiKey: sk-inline-secret, apiBaseUrl: "http://127.0.0.1:9/v1", functions: []}
        tests:
          - vars: {q: hi}
            assert:
              - type: python
                value: file://check.py
              - type: contains
                value: hi
                weight: 3
            options: {transform: output.trim()}
    """)
    r = cli("import", "promptfoo", cfg, "--name", "warned")
    assert r.exit_code == 0, r.output
    assert "sk-inline-secret" not in r.output
    for bit in ("an inline apiKey is never stored", "config functions ignored", "python evaluator 'file://check.py'",
                "weight 3 ignored", "options transform ignored"):
        assert bit in r.stderr, bit
    assert "run it: python -m lib batch run --dataset warned --prompt warned:1 --model 127-0-0-1/gpt-4o-mini" \
        in r.stdout


def test_bad_config_exits_2_with_one_line(engine, tmp_path):
    bad = _write(tmp_path / "bad.yaml", "prompts: [unclosed\n")
    r = cli("import", "promptfoo", bad)
    assert r.exit_code == 2 and "not valid YAML" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("import", "promptfoo", tmp_path / "missing.yaml")
    assert r.exit_code == 2
