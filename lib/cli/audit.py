"""`python -m lib audit list` (who changed what) and `python -m lib users list|role` (roles of signed-in people)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer

from lib import audit, db, users
from lib.identity import cli_operator
from lib.metrics import parse_since

from .common import JsonOpt, emit, handle_errors


def _line(e) -> str:
    return f"{e.created_at:%Y-%m-%d %H:%M:%S}  {e.actor:<28} {e.action:<16} {e.object_id:<30} {e.summary}"


def register(app: typer.Typer) -> None:
    """Add the `audit` and `users` groups."""
    sub = typer.Typer(no_args_is_help=True, help="The audit log: who changed what, when.")
    app.add_typer(sub, name="audit")

    @sub.command("list")
    @handle_errors
    def list_(who: str = typer.Option(None, "--who", help="An identity label: ana@acme.com, cli:ana, token:ci."),
              action: str = typer.Option(None, "--action", help="e.g. label.move, endpoint.update, prompt.version"),
              object_type: str = typer.Option(None, "--object", help="prompt, label, endpoint, price, user, job, "
                                                                        "token, webhook, dataset"),
              since: str = typer.Option(None, "--since", help="24h, 7d or a date (2026-11-01)"),
              search: str = typer.Option(None, "--search", help="Text in the object name or the change."),
              limit: int = typer.Option(200, "--limit", min=1, max=10_000),
              csv: bool = typer.Option(False, "--csv", help="CSV on stdout (formula cells neutralised)."),
              as_json: bool = JsonOpt) -> None:
        """Audit events, newest first."""
        start = parse_since(since) if since else None
        with db.session_scope() as s:
            events, total = audit.list_events(session=s, actor=cli_operator(), who=who, action=action,
                                              object_type=object_type, since=start, search=search, limit=limit)
            if csv:
                sys.stdout.buffer.write(audit.to_csv(events))
                return
            data = {"total": total, "events": [audit.event_to_dict(e) for e in events]}
            emit(data, as_json, lambda: "\n".join([_line(e) for e in events] + [f"{len(events)} of {total} events"]))

    people = typer.Typer(no_args_is_help=True,  # `\\[`: rich would take "[auth]" for markup and drop it
                         help="People who signed in (with an \\[auth] section in secrets.toml) and their roles.")
    app.add_typer(people, name="users")

    @people.command("list")
    @handle_errors
    def users_list(as_json: bool = JsonOpt) -> None:
        """Everyone who signed in, with the role they hold now."""
        with db.session_scope() as s:
            rows = users.list_users(session=s)
        emit(rows, as_json, lambda: "\n".join(f"{r['email']:<32} {r['role']:<7} "
                                               f"{'(set here)' if r['set_role'] else '(from settings)'}"
                                               for r in rows) or "nobody has signed in yet")

    @people.command("role")
    @handle_errors
    def users_role(email: str, role: str = typer.Argument(..., help="viewer, editor, admin, or 'settings' to "
                                                                       "follow the admins/editors settings"),
                   as_json: bool = JsonOpt) -> None:
        """Give a person a role (audited)."""
        with db.session_scope() as s:
            users.set_role(session=s, actor=cli_operator(), email=email, role=None if role == "settings" else role)
            now = users.role_of(session=s, email=email)
        emit({"email": email.lower(), "role": now, "at": datetime.now(UTC)}, as_json, f"{email.lower()}: {now}")
