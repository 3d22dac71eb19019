"""`python -m lib tokens create|list|revoke`: workbench API tokens (the token is printed once)."""

from __future__ import annotations

import dataclasses

import typer

from lib import db
from lib.api import create_token, list_tokens, revoke_token
from lib.identity import cli_operator

from .common import JsonOpt, emit, handle_errors


def register(app: typer.Typer) -> None:
    """Add the `tokens` command group."""
    sub = typer.Typer(no_args_is_help=True, help="API tokens for the HTTP API and the gateway.")
    app.add_typer(sub, name="tokens")

    @sub.command("create")
    @handle_errors
    def create(name: str,
               scope: list[str] = typer.Option(..., "--scope", help="read, run or write (repeatable)."),
               rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute for this token."),
               as_json: bool = JsonOpt) -> None:
        """Create a token; it is shown once and stored only as a hash."""
        with db.session_scope() as s:
            token, info = create_token(session=s, actor=cli_operator(), name=name, scope=scope, rpm=rpm)
        emit({"token": token, **dataclasses.asdict(info)}, as_json,
             f"token {info.name} ({','.join(info.scopes)}, rpm {info.rpm or 'default'}):\n{token}\n"
             "Store it now: it is not shown again.")

    @sub.command("list")
    @handle_errors
    def list_(as_json: bool = JsonOpt) -> None:
        """Every token: name, prefix, scopes, rpm, created, last used, revoked."""
        with db.session_scope() as s:
            rows = [dataclasses.asdict(t) for t in list_tokens(session=s)]

        def human() -> str:
            if not rows:
                return "no tokens"
            return "\n".join(f"{r['name']:<24} {r['prefix']}...  {','.join(r['scopes']):<14} "
                             f"rpm {r['rpm'] or 'default':<8} last used {r['last_used_at'] or 'never'}"
                             f"{'  REVOKED' if r['revoked'] else ''}" for r in rows)
        emit(rows, as_json, human)

    @sub.command("revoke")
    @handle_errors
    def revoke(name: str, as_json: bool = JsonOpt) -> None:
        """Revoke a token by name."""
        with db.session_scope() as s:
            info = revoke_token(session=s, actor=cli_operator(), name=name)
        emit(dataclasses.asdict(info), as_json, f"token {info.name} revoked")
