"""AppTest of the sign-in gate: with `[auth]` an anonymous session sees only the sign-in screen, and a
broken `[auth]` or an unreachable provider is a clear message there (and in the log), never a traceback."""

from __future__ import annotations

import logging
import socket

from streamlit.testing.v1 import AppTest

from lib import prompts
from lib.db import session_scope
from tests.actors import ADMIN
from tests.app.conftest import APP, TIMEOUT

GOOD = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "workbench", "client_secret": "s"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def _anonymous(auth: dict, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = auth
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")  # messages are markdown-escaped (md_escape)


def _shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.title, *at.markdown, *at.error, *at.info, *at.caption, *at.code])


def test_missing_client_id_is_said_on_the_sign_in_screen(engine_for_app, caplog):
    with session_scope(engine_for_app) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="secret-plan", messages=[{"role": "user",
                              "content": "the plan"}])
    conf = {k: v for k, v in GOOD.items() if k != "client_id"}
    conf["server_metadata_url"] = "http://127.0.0.1:1/.well-known/openid-configuration"
    with caplog.at_level(logging.ERROR, logger="workbench.auth"):
        at = _anonymous(conf)
    assert not at.exception
    assert [_plain(e.value) for e in at.error] == [
        "Sign-in is not available: [auth] in .streamlit/secrets.toml is missing client_id; ask the administrator."]
    assert not at.button  # no sign-in button, no page, no sidebar content
    assert "secret-plan" not in _shown(at) and not at.sidebar.markdown
    assert any("missing client_id" in r.getMessage() for r in caplog.records)


def test_unreachable_provider_is_said_and_no_page_runs(engine_for_app, caplog):
    conf = dict(GOOD, server_metadata_url=f"http://127.0.0.1:{_closed_port()}/.well-known/openid-configuration")
    with caplog.at_level(logging.ERROR, logger="workbench.auth"):
        at = _anonymous(conf)
    assert not at.exception
    assert len(at.error) == 1 and "the login provider cannot be reached (ConnectError)" in _plain(at.error[0].value)
    assert "Sign in to continue." in _shown(at)
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_without_auth_the_home_page_says_single_user(engine_for_app):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert any("Single-user mode" in i.value and "127.0.0.1" in i.value for i in at.info)
