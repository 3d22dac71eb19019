"""`db` commands."""

from __future__ import annotations

import typer

from lib import db

from .common import JsonOpt, emit, handle_errors


def register(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True, help="Database: migrations and info.")
    app.add_typer(sub, name="db")

    @sub.command("upgrade")
    @handle_errors
    def upgrade(as_json: bool = JsonOpt) -> None:
        """Apply every migration (safe to run again)."""
        rev = db.upgrade()
        emit({"revision": rev}, as_json, f"database at revision {rev}")

    @sub.command("info")
    @handle_errors
    def info(as_json: bool = JsonOpt) -> None:
        """Database URL (password hidden), size and migration revision."""
        i = db.database_info()
        emit(i, as_json, lambda: "\n".join(f"{k}: {v}" for k, v in i.items()))
