"""`python -m lib audit list` and `users list|role`: the CLI acts as cli:<os user> and its changes are audited."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lib import users
from lib.cli.app import build
from lib.db import session_scope
from lib.identity import cli_operator

runner = CliRunner()


def js(*args):
    r = runner.invoke(build(), [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_cli_changes_are_listed_with_the_os_user(engine, tmp_path):
    js("prompts", "create", "support", "--message", "user:Hi {{name}}", "-m", "first")
    js("prompts", "label", "support", "1", "production")
    out = js("audit", "list")
    me = cli_operator().label
    assert [(e["actor"], e["action"], e["object_id"]) for e in out["events"][:2]] == [
        (me, "label.move", "support@production"), (me, "prompt.create", "support")]
    assert js("audit", "list", "--action", "label.move")["total"] == 1
    r = runner.invoke(build(), ["audit", "list", "--csv"])
    assert r.exit_code == 0 and r.stdout.splitlines()[0].lstrip("\ufeff").startswith("id,created_at,actor")


def test_users_role_is_audited(engine):
    with session_scope(engine) as s:
        users.sign_in(session=s, email="first@acme.test")  # first person: admin
        users.sign_in(session=s, email="second@acme.test")
    assert js("users", "role", "second@acme.test", "editor")["role"] == "editor"
    roles = {u["email"]: u["role"] for u in js("users", "list")}
    assert roles == {"first@acme.test": "admin", "second@acme.test": "editor"}
    ev = js("audit", "list", "--action", "role.set")["events"][0]
    assert (ev["actor"], ev["object_id"], ev["summary"]) == (cli_operator().label, "second@acme.test",
                                                             "viewer -> editor")
    r = runner.invoke(build(), ["users", "role", "second@acme.test", "owner"])
    assert r.exit_code == 2 and "unknown role 'owner'" in r.output


def test_the_users_help_keeps_its_bracketed_section_name(sqlite_engine):
    """rich reads `[auth]` as markup and drops it unless escaped: the help must still name the section."""
    out = runner.invoke(build(), ["--help"], terminal_width=200).output
    line = next(x for x in out.splitlines() if " users " in x)
    assert "[auth]" in line, line
