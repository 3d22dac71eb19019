"""`prompts ...` and `render` commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lib import db
from lib.errors import ValidationError
from lib.identity import cli_operator
from lib.prompts import (
    create_prompt,
    diff_versions,
    dumps,
    export_prompt,
    get_version,
    import_prompt,
    labels_of,
    list_prompts,
    list_versions,
    message_text,
    prompt_exists,
    resolve,
    rollback,
    save_version,
    set_label,
    summaries,
)
from lib.prompts import render as templating_render
from lib.prompts import unused as templating_unused

from .common import JsonOpt, emit, handle_errors, parse_pairs


def _session():
    return db.session_scope()


def _parse_message(item: str) -> dict:
    role, sep, text = item.partition(":")
    if not sep:
        raise ValidationError(f"--message {item!r}: expected ROLE:TEXT, e.g. user:Hello {{{{name}}}}")
    return {"role": role.strip(), "content": text.replace("\\n", "\n")}


def _version_dict(v, name: str, labels: dict[str, int] | None = None) -> dict:
    return {"prompt": name, "version": v.number, "template_format": v.template_format, "messages": v.messages,
            "variables": v.variables, "model": v.model, "params": v.params, "commit_message": v.commit_message,
            "author": v.author, "created_at": v.created_at,
            "labels": sorted(k for k, n in (labels or {}).items() if n == v.number)}


def _load_prompt_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(data, list):
        data = {"messages": data}
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: expected an object with \"messages\" or a list of messages")
    return data


def register(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True, help="The prompt registry: versions, labels, diff, import/export.")
    app.add_typer(sub, name="prompts")

    @sub.command("create")
    @handle_errors
    def create(name: str,
               message: list[str] | None = typer.Option(None, "--message", help="ROLE:TEXT, repeatable."),
               file: Path | None = typer.Option(None, "--file", help="JSON: {messages, template_format, "
                                                   "model, params, description, tags} or a list of messages."),
               template_format: str = typer.Option("mustache", "--format", help="mustache or jinja2."),
               commit: str = typer.Option("", "-m", "--commit-message"),
               model: str | None = typer.Option(None, "--model", help="Default ENDPOINT/MODEL."),
               tag: list[str] | None = typer.Option(None, "--tag"),
               as_json: bool = JsonOpt) -> None:
        """Create a prompt (version 1), or save a new version if it already exists."""
        spec = _load_prompt_file(file) if file else {}
        msgs = spec.get("messages") or [_parse_message(m) for m in message or []]
        fmt = spec.get("template_format", template_format)
        with _session() as s:
            if not prompt_exists(session=s, name=name):
                v = create_prompt(actor=cli_operator(), session=s, name=name, messages=msgs, template_format=fmt,
                                  description=spec.get("description", ""), tags=spec.get("tags") or tag,
                                  model=spec.get("model", model), params=spec.get("params"), commit_message=commit)
                created = True
            else:
                v, created = save_version(actor=cli_operator(), session=s, name=name, messages=msgs,
                                          template_format=fmt,
                                          model=spec.get("model", model), params=spec.get("params"),
                                          commit_message=commit)
            out = _version_dict(v, name) | {"created": created}
        emit(out, as_json, f"{name}:{v.number} {'saved' if created else 'unchanged (identical to the latest)'}"
             f"; variables: {', '.join(v.variables) or '(none)'}")

    @sub.command("list")
    @handle_errors
    def list_(search: str | None = typer.Option(None, "--search"), tag: str | None = typer.Option(None),
              sort: str = typer.Option("updated"), page: int = typer.Option(1), page_size: int = typer.Option(50),
              archived: bool = typer.Option(False, "--archived", help="Include archived prompts."),
              as_json: bool = JsonOpt) -> None:
        """List prompts (newest first), with search, tag filter and pages."""
        with _session() as s:
            rows, total = list_prompts(session=s, search=search, tag=tag, sort=sort, page=page,
                                       page_size=page_size, include_archived=archived)
            info = summaries(session=s, prompt_ids=[p.id for p in rows])
            items = [{"name": p.name, "description": p.description, "tags": p.tags, "archived": p.archived,
                      "latest": info[p.id]["latest"], "labels": info[p.id]["labels"], "updated_at": p.updated_at}
                     for p in rows]
        emit({"total": total, "page": page, "items": items}, as_json, lambda: "\n".join(
            [f"{i['name']:<30} v{i['latest']}  {' '.join(f'{k}=v{n}' for k, n in i['labels'].items())}"
             f"{'  [archived]' if i['archived'] else ''}" for i in items] + [f"({len(items)} of {total})"]))

    @sub.command("show")
    @handle_errors
    def show(ref: str, as_json: bool = JsonOpt) -> None:
        """Show NAME, NAME:VERSION or NAME@LABEL."""
        with _session() as s:
            v = resolve(session=s, ref=ref)
            name = ref.split(":")[0].split("@")[0]
            out = _version_dict(v, name, labels_of(session=s, prompt_id=v.prompt_id))
            out["versions"] = len(list_versions(session=s, name=name))
        emit(out, as_json, lambda: "\n".join(
            [f"{name}:{v.number}  ({out['template_format']}; labels: {', '.join(out['labels']) or '-'}; "
             f"{out['versions']} versions)", f"model: {v.model or '-'}  params: {json.dumps(v.params)}",
             f"variables: {', '.join(v.variables) or '(none)'}"]
            + [f"[{m['role']}]\n{message_text(m)}" for m in v.messages]))

    @sub.command("diff")
    @handle_errors
    def diff(name: str, v1: int, v2: int, as_json: bool = JsonOpt) -> None:
        """Differences between two versions."""
        with _session() as s:
            d = diff_versions(get_version(session=s, name=name, number=v1),
                              get_version(session=s, name=name, number=v2))
        emit({"summary": d.summary(), "identical": d.identical, "template_format": d.template_format,
              "model": d.model, "params": d.params, "messages": [m.__dict__ for m in d.messages], "text": d.text},
             as_json, lambda: d.summary() + ("\n" + d.text if d.text else ""))

    @sub.command("label")
    @handle_errors
    def label(name: str, version: int, label: str, as_json: bool = JsonOpt) -> None:
        """Point LABEL (production, staging, custom) at VERSION."""
        with _session() as s:
            set_label(actor=cli_operator(), session=s, name=name, label=label, version=version)
        emit({"prompt": name, "label": label, "version": version}, as_json, f"{name}@{label} -> v{version}")

    @sub.command("rollback")
    @handle_errors
    def rollback_(name: str, label: str = typer.Argument("production"), as_json: bool = JsonOpt) -> None:
        """Move LABEL back to the version it pointed at before its last move."""
        with _session() as s:
            rollback(session=s, actor=cli_operator(), name=name, label=label)
            v = resolve(session=s, ref=f"{name}@{label}").number
        emit({"prompt": name, "label": label, "version": v}, as_json, f"{name}@{label} -> v{v}")

    @sub.command("export")
    @handle_errors
    def export(name: str, output: Path | None = typer.Option(None, "-o", "--output"),
               as_json: bool = JsonOpt) -> None:
        """Export a prompt with every version and label as JSON (stdout or -o FILE)."""
        with _session() as s:
            text = dumps(export_prompt(session=s, name=name))
        if output:
            output.write_text(text, encoding="utf-8")
            emit({"prompt": name, "file": str(output)}, as_json, f"wrote {output}")
        else:
            typer.echo(text)

    @sub.command("import")
    @handle_errors
    def import_(file: Path, name: str | None = typer.Option(None, "--name", help="Import under this name."),
                as_json: bool = JsonOpt) -> None:
        """Import a prompt exported with `prompts export`."""
        with _session() as s:
            p = import_prompt(actor=cli_operator(), session=s, data=file.read_text(encoding="utf-8"), name=name)
            n = len(list_versions(session=s, name=p.name))
        emit({"prompt": p.name, "versions": n}, as_json, f"imported {p.name} ({n} versions)")

    @app.command("render")
    @handle_errors
    def render(ref: str, var: list[str] | None = typer.Option(None, "--var", help="NAME=VALUE, repeatable."),
               vars_json: str | None = typer.Option(None, "--vars-json", help="All values as one JSON object."),
               as_json: bool = JsonOpt) -> None:
        """Render NAME[:V|@LABEL] with values and print the messages."""
        values = json.loads(vars_json) if vars_json else {}
        values.update(parse_pairs(var))
        with _session() as s:
            v = resolve(session=s, ref=ref)
            msgs = templating_render(v, values)
            unused = templating_unused(v, values)
        for k in unused:
            typer.echo(f"warning: value {k!r} is not used by the template", err=True)
        emit({"messages": msgs, "unused": unused}, as_json,
             lambda: "\n\n".join(f"[{m['role']}]\n{message_text(m)}" for m in msgs))
