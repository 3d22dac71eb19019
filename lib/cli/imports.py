"""`import ...` commands: bring another tool's eval config into the workbench."""

from __future__ import annotations

from pathlib import Path

import typer

from lib import db
from lib.datasets import import_promptfoo
from lib.identity import cli_operator

from .common import JsonOpt, emit, fail, handle_errors


def _text(r: dict) -> str:
    lines = [f"prompt {r['prompt']}: versions {', '.join(map(str, r['versions']))}",
             f"models: {', '.join(r['models'])}" + (f" (endpoints created: {', '.join(r['endpoints_created'])})"
                                                    if r["endpoints_created"] else ""),
             f"dataset {r['dataset']}: {r['rows']} rows" + (f"; judge model {r['judge_model']}"
                                                          if r["judge_model"] else ""),
             f"run it: {r['command']}"]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the `import` group."""
    sub = typer.Typer(no_args_is_help=True, help="Import another tool's eval config.")
    app.add_typer(sub, name="import")

    @sub.command("promptfoo")
    @handle_errors
    def promptfoo(config: Path = typer.Argument(..., help="promptfooconfig.yaml"),
                  name: str | None = typer.Option(None, "--name", help="Prompt and dataset name."),
                  judge_model: str | None = typer.Option(None, "--judge-model",
                                                         help="ENDPOINT/MODEL for llm-rubric without a provider."),
                  as_json: bool = JsonOpt) -> None:
        """Prompts -> versions, providers -> endpoints/models, tests -> a dataset (exit 2 if nothing runs)."""
        if not config.is_file():
            fail(f"{config}: no such file")
        with db.session_scope() as s:
            report = import_promptfoo(session=s, actor=cli_operator(), path=config, name=name, judge_model=judge_model)
            if report.runnable:
                s.commit()
        out = report.to_dict()
        for item in report.unsupported:
            typer.echo(f"warning: not imported: {item}", err=True)
        if not report.runnable:
            emit(out, as_json, "nothing runnable was imported")
            fail(f"{config.name}: nothing runnable is left (" + "; ".join(
                u for u in report.unsupported if u.startswith("no ")) + ")")
        emit(out, as_json, lambda: _text(out))
