"""`endpoints ...`, `run` and `runs ...` commands."""

from __future__ import annotations

import typer

from lib import db, runs
from lib.client import (
    add_endpoint,
    delete_endpoint,
    ensure_defaults,
    get_client,
    health,
    list_endpoints,
    record_check,
    update_endpoint,
)
from lib.credentials import has_secret
from lib.errors import ValidationError
from lib.identity import cli_operator
from lib.prompts import check_params, resolve

from .common import JsonOpt, emit, handle_errors, parse_pairs, parse_params


def _money(v: float | None) -> str:
    return "unknown" if v is None else f"${v:.6f}"


def _session():
    return db.session_scope()


def _defaults() -> None:
    with _session() as s:
        ensure_defaults(s, actor=cli_operator())


def _endpoint_dict(e) -> dict:
    return {"name": e.name, "kind": e.kind, "base_url": e.base_url, "api_key_env": e.api_key_env,
            "key_present": has_secret(e.api_key_env) if e.api_key_env else None, "rpm": e.rpm, "tpm": e.tpm,
            "max_concurrency": e.max_concurrency, "timeout_s": e.timeout_s, "models": e.models,
            "headers": sorted(e.headers or {}), "options": e.options}


def _register_endpoints(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True, help="Model endpoints (the key is named, never stored).")
    app.add_typer(sub, name="endpoints")

    @sub.command("add")
    @handle_errors
    def add(name: str, kind: str = typer.Option(..., "--kind", help="openai | anthropic | echo"),
            base_url: str = typer.Option("", "--base-url"),
            api_key_env: str = typer.Option(None, "--api-key-env", help="NAME of the env var / secret with the key"),
            rpm: int = typer.Option(None, "--rpm"), tpm: int = typer.Option(None, "--tpm"),
            max_concurrency: int = typer.Option(8, "--max-concurrency"),
            timeout: float = typer.Option(60.0, "--timeout", help="deadline per call, seconds"),
            model: list[str] = typer.Option(None, "--model", help="static model id (repeatable)"),
            header: list[str] = typer.Option(None, "--header", help="extra header K=V (not secret)"),
            option: list[str] = typer.Option(None, "--option", help="kind option K=V"),
            rebind_key: bool = typer.Option(False, "--rebind-key",
                                            help="send a key already bound to another host to this one"),
            as_json: bool = JsonOpt) -> None:
        """Add an endpoint."""
        _defaults()
        with _session() as s:
            e = add_endpoint(actor=cli_operator(), session=s, name=name, kind=kind, base_url=base_url,
                             api_key_env=api_key_env,
                                       rpm=rpm, tpm=tpm, max_concurrency=max_concurrency, timeout_s=timeout,
                                       models=list(model or []), headers=parse_pairs(header, "--header"),
                                       options=parse_params(option), rebind_key=rebind_key)
            data = _endpoint_dict(e)
        emit(data, as_json, f"added endpoint {name} ({kind})")

    @sub.command("update")
    @handle_errors
    def update(name: str, base_url: str = typer.Option(None, "--base-url"),
               api_key_env: str = typer.Option(None, "--api-key-env"), rpm: int = typer.Option(None, "--rpm"),
               tpm: int = typer.Option(None, "--tpm"), max_concurrency: int = typer.Option(None, "--max-concurrency"),
               timeout: float = typer.Option(None, "--timeout"), as_json: bool = JsonOpt) -> None:
        """Change an endpoint (a new host needs --api-key-env again)."""
        changes = {k: v for k, v in dict(base_url=base_url, api_key_env=api_key_env, rpm=rpm, tpm=tpm,
                                         max_concurrency=max_concurrency, timeout_s=timeout).items()
                   if v is not None}
        if not changes:
            raise ValidationError("nothing to change")
        with _session() as s:
            data = _endpoint_dict(update_endpoint(actor=cli_operator(), session=s, name=name, **changes))
        emit(data, as_json, f"updated endpoint {name}")

    @sub.command("remove")
    @handle_errors
    def remove(name: str, as_json: bool = JsonOpt) -> None:
        """Delete an endpoint (its runs keep the name)."""
        with _session() as s:
            delete_endpoint(actor=cli_operator(), session=s, name=name)
        emit({"removed": name}, as_json, f"removed endpoint {name}")

    @sub.command("list")
    @handle_errors
    def list_(as_json: bool = JsonOpt) -> None:
        """List endpoints."""
        _defaults()
        with _session() as s:
            rows = [_endpoint_dict(e) for e in list_endpoints(session=s)]

        def human() -> str:
            lines = [f"{'NAME':<16} {'KIND':<10} {'KEY':<22} {'LIMITS':<24} BASE URL"]
            for r in rows:
                key = "-" if not r["api_key_env"] else f"{r['api_key_env']}{'' if r['key_present'] else ' (unset)'}"
                lim = f"c={r['max_concurrency']} rpm={r['rpm'] or '-'} tpm={r['tpm'] or '-'}"
                lines.append(f"{r['name']:<16} {r['kind']:<10} {key:<22} {lim:<24} {r['base_url'] or '-'}")
            return "\n".join(lines)
        emit(rows, as_json, human)

    @sub.command("test")
    @handle_errors
    def test(name: str, timeout: float = typer.Option(10.0, "--timeout"), as_json: bool = JsonOpt) -> None:
        """Check an endpoint: reachable, key set, models (the result is kept, as a test in Settings is)."""
        _defaults()
        h = health(name, timeout_s=timeout)
        with _session() as s:
            record_check(actor=cli_operator(), session=s, name=name, result=h)
        if as_json:
            emit(h, True)
        else:
            status = "ok" if h["ok"] else f"FAILED: {h['error']}"
            typer.echo(f"{name}: {status} ({h['latency_ms']:.0f} ms)")
            if h.get("key_present") is False:
                typer.echo(f"key: {h['api_key_env']} is not set")
            if h["models"]:
                typer.echo("models: " + ", ".join(h["models"]))
        if not h["ok"]:
            raise typer.Exit(1)


def _check_run_params(params: dict, saved: dict) -> None:
    """Refuse bad `--param` values (types, ranges, tools / response_format JSON) before any call."""
    checked = dict(params)
    if "tool_choice" in checked and "tools" not in checked:  # a choice names one of the version's tools
        checked["tools"] = saved.get("tools")
    errors, _ = check_params(checked)
    if errors:
        raise ValidationError("--param " + "; ".join(errors))


def _register_run(app: typer.Typer) -> None:
    @app.command("run")
    @handle_errors
    def run(ref: str = typer.Argument(..., help="NAME, NAME:VERSION or NAME@LABEL"),
            model: str = typer.Option(None, "--model", help="ENDPOINT/MODEL (default: the version's model)"),
            var: list[str] = typer.Option(None, "--var", help="variable K=V (repeatable)"),
            param: list[str] = typer.Option(None, "--param", help="parameter K=V, JSON values parsed"),
            stream: bool = typer.Option(False, "--stream", help="print the answer as it arrives"),
            cache: bool = typer.Option(False, "--cache", help="use the response cache"),
            timeout: float = typer.Option(None, "--timeout", help="deadline in seconds"),
            as_json: bool = JsonOpt) -> None:
        """Run a prompt version; prints the answer and one line of tokens, cost, latency, TTFT."""
        _defaults()
        with _session() as s:
            version = resolve(session=s, ref=ref)
        params = parse_params(param)
        _check_run_params(params, version.params or {})
        client = get_client()
        kw = dict(version=version, model=model, variables=parse_pairs(var), params=params,
                  source="cli", cache=cache, deadline_s=timeout)
        if stream and not as_json:
            st = client.stream_sync(actor=cli_operator(), **kw)
            for chunk in st:
                typer.echo(chunk, nl=False)
            typer.echo("")
            result = st.result
        else:
            result = client.generate_sync(actor=cli_operator(), **kw)
            if not as_json:
                typer.echo(result.text)
        if not as_json:  # a tool-call answer has no text: print its calls instead of an empty line
            for call in result.tool_calls or []:
                fn = call.get("function") or {}
                typer.echo(f"tool call {call.get('id', '')}: {fn.get('name', '?')}({fn.get('arguments', '')})")
        if as_json:
            emit(result.model_dump(exclude={"run"}), True)
        else:
            typer.echo(f"-- run {result.run_id} {result.endpoint}/{result.model}: {result.summary()}", err=True)
        if result.status != "ok":
            raise typer.Exit(1)


def _register_runs(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True, help="The run log.")
    app.add_typer(sub, name="runs")

    @sub.command("list")
    @handle_errors
    def list_(search: str = typer.Option(None, "--search"), status: str = typer.Option(None, "--status"),
              source: str = typer.Option(None, "--source"), model: str = typer.Option(None, "--model"),
              prompt: str = typer.Option(None, "--prompt"), page: int = typer.Option(1, "--page"),
              limit: int = typer.Option(20, "--limit"), as_json: bool = JsonOpt) -> None:
        """Recent runs, newest first."""
        with _session() as s:
            rows, total = runs.list_runs(session=s, search=search, status=status, source=source, model=model,
                                         prompt_name=prompt, page=page, page_size=limit)
            data = [runs.run_to_dict(r, full=False) for r in rows]
        if as_json:
            emit({"total": total, "page": page, "runs": data}, True)
            return
        lines = [f"{'ID':>6} {'WHEN':<19} {'STATUS':<10} {'MODEL':<28} {'TOKENS':>11} {'COST':>10} {'MS':>7}  OUTPUT"]
        for r in data:
            cost = "?" if r["cost_usd"] is None else f"{r['cost_usd']:.5f}"
            tok = f"{r['prompt_tokens'] or 0}/{r['completion_tokens'] or 0}"
            out = " ".join((r["output"] or r["error_message"] or "").split())[:50]
            lines.append(f"{r['id']:>6} {r['created_at'][:19]:<19} {r['status']:<10} "
                         f"{(r['endpoint'] + '/' + r['model'])[:28]:<28} {tok:>11} {cost:>10} "
                         f"{(r['latency_ms'] or 0):>7.0f}  {out}")
        lines.append(f"({len(data)} of {total})")
        typer.echo("\n".join(lines))

    @sub.command("show")
    @handle_errors
    def show(run_id: int, as_json: bool = JsonOpt) -> None:
        """One run in full."""
        with _session() as s:
            data = runs.run_to_dict(runs.get_run(session=s, run_id=run_id))

        def human() -> str:
            head = [f"run {data['id']} ({data['source']}) {data['created_at']}",
                    f"model: {data['endpoint']}/{data['model']}  status: {data['status']}"
                    + (f" ({data['error_kind']}: {data['error_message']})" if data["error_kind"] else ""),
                    f"tokens: {data['prompt_tokens']} in / {data['completion_tokens']} out"
                    + (" (estimated)" if data["usage_estimated"] else "")
                    + f"  cost: {_money(data['cost_usd'])}"
                    + f"  latency: {data['latency_ms']} ms  TTFT: {data['ttft_ms']}  attempts: {data['attempts']}"]
            if data["prompt_name"]:
                head.append(f"prompt: {data['prompt_name']} v{data['version_number']}")
            msgs = [f"[{m.get('role')}] {m.get('content')}" for m in data["messages"]]
            return "\n".join(head + ["--- messages"] + msgs + ["--- output", data["output"]])
        emit(data, as_json, human)

    @sub.command("rate")
    @handle_errors
    def rate(run_id: int, rating: int = typer.Option(..., "--rating", help="1, -1 or 0 to clear"),
             note: str = typer.Option(None, "--note"), as_json: bool = JsonOpt) -> None:
        """Rate a run."""
        with _session() as s:
            r = runs.rate_run(run_id, rating, note, actor=cli_operator(), session=s)
            data = {"id": r.id, "rating": r.rating, "note": r.note}
        emit(data, as_json, f"run {run_id} rated {data['rating']}")


def register(app: typer.Typer) -> None:
    """Add the client's commands to the CLI."""
    _register_endpoints(app)
    _register_run(app)
    _register_runs(app)
