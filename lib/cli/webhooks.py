"""`python -m lib webhooks add|list|remove|deliveries|deliver`: URLs told about label moves and new versions."""

from __future__ import annotations

import typer

from lib import db
from lib.api import add_webhook, deliveries, dispatcher, list_webhooks, outbox_summary, remove_webhook
from lib.identity import cli_operator

from .common import JsonOpt, emit, handle_errors


def register(app: typer.Typer) -> None:
    """Add the `webhooks` command group."""
    sub = typer.Typer(no_args_is_help=True, help="Webhooks: signed JSON events on label moves and new versions.")
    app.add_typer(sub, name="webhooks")

    @sub.command("add")
    @handle_errors
    def add(url: str, event: list[str] = typer.Option([], "--event", help="label.moved or version.created "
                                                                          "(repeatable; default: both)."),
            as_json: bool = JsonOpt) -> None:
        """Register a URL; prints its signing secret once."""
        with db.session_scope() as s:
            secret, info = add_webhook(session=s, actor=cli_operator(), url=url, events=event)
        emit({"secret": secret, **info}, as_json,
             f"webhook {info['id']} -> {info['url']} ({', '.join(info['events'])})\nsigning secret: {secret}\n"
             "Store it now: it is not shown again.")

    @sub.command("list")
    @handle_errors
    def list_(as_json: bool = JsonOpt) -> None:
        """Every webhook."""
        with db.session_scope() as s:
            rows = list_webhooks(session=s)
        emit(rows, as_json, lambda: "\n".join(f"{r['id']:>3} {'on ' if r['active'] else 'off'} {r['url']}  "
                                              f"{','.join(r['events'])}" for r in rows) or "no webhooks")

    @sub.command("remove")
    @handle_errors
    def remove(webhook_id: int, as_json: bool = JsonOpt) -> None:
        """Stop delivering to a webhook (its log stays)."""
        with db.session_scope() as s:
            remove_webhook(session=s, actor=cli_operator(), webhook_id=webhook_id)
        emit({"id": webhook_id, "active": False}, as_json, f"webhook {webhook_id} removed")

    @sub.command("deliveries")
    @handle_errors
    def deliveries_(webhook_id: int | None = typer.Option(None, "--webhook"),
                    limit: int = typer.Option(50, "--limit"), as_json: bool = JsonOpt) -> None:
        """The delivery log, newest first (one line per attempt)."""
        with db.session_scope() as s:
            rows = deliveries(session=s, webhook_id=webhook_id, limit=limit)
        emit(rows, as_json, lambda: "\n".join(
            f"{r['created_at'][:19]} hook {r['webhook_id']} {r['event']:<16} try {r['attempt']} "
            f"{'ok' if r['ok'] else 'FAILED'} {r['status_code'] or ''} {r['error'] or ''}" for r in rows)
            or "no deliveries")

    @sub.command("deliver")
    @handle_errors
    def deliver(wait: float = typer.Option(60.0, "--wait", help="Seconds to keep retrying what fails."),
                as_json: bool = JsonOpt) -> None:
        """Deliver the outbox now (what a stopped server left pending too), retrying for up to --wait seconds."""
        engine = db.get_engine()
        dispatcher().watch(engine)
        done = dispatcher().drain(timeout_s=max(0.0, wait))
        with db.session_scope() as s:
            counts = outbox_summary(session=s)
        emit({**counts, "drained": done}, as_json,
             f"outbox: {counts['pending']} pending, {counts['delivered']} delivered, {counts['failed']} failed")
