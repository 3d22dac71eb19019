"""#12 item 3: History filters runs by who made them (a person, `cli:<os user>`, `token:<name>`)."""

from __future__ import annotations

from lib import runs
from lib.client import get_client
from lib.db import session_scope
from lib.identity import Identity, cli_operator
from lib.models import Run
from tests.actors import ADMIN, EDITOR
from tests.app.conftest import new_app, texts

BOT = Identity(kind="token", name="deploy-bot", scopes=frozenset({"run"}))


def test_history_filters_runs_by_user(engine_for_app):
    client = get_client(engine_for_app)
    for who, text in ((ADMIN, "from ana"), (EDITOR, "from eli"), (EDITOR, "eli again"), (cli_operator(), "from cli"),
                      (BOT, "from the bot")):
        client.generate_sync(actor=who, model="echo/echo", messages=[{"role": "user", "content": text}])
    with session_scope(engine_for_app) as s:
        every = {ADMIN.label, EDITOR.label, cli_operator().label, "token:deploy-bot"}
        assert runs.run_users(session=s) == sorted(every)
        rows, total = runs.list_runs(session=s, user=EDITOR.label)
        assert total == 2 and {r.actor for r in rows} == {EDITOR.label}
    at = new_app("pages/history.py")
    assert set(at.selectbox(key="hist_user").options) >= {EDITOR.label, "token:deploy-bot", cli_operator().label}
    at.selectbox(key="hist_user").set_value("token:deploy-bot").run()
    assert not at.exception, [e.value for e in at.exception]
    page = texts(at)
    assert "1 run ·" in page, page[:500]
    with session_scope(engine_for_app) as s:
        assert s.query(Run).filter(Run.actor == "token:deploy-bot").count() == 1
