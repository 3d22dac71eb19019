"""AppTest of Settings' API section: a token created is shown once and works; revoke; webhooks and their log."""

from __future__ import annotations

from sqlmodel import select

from lib import db
from lib.api import authenticate, clear_token_cache
from lib.models import ApiToken
from tests.app.conftest import new_app

PAGE = "pages/settings.py"


def _open():
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_token_shown_once_listed_and_revoked(engine_for_app):
    clear_token_cache()
    at = _open()
    at.text_input(key="settings_tok_name").input("deploy-bot")
    at.multiselect(key="settings_tok_scopes").set_value(["read", "run"])
    at.button(key="settings_tok_create").click().run()
    assert not at.exception
    shown = [c.value for c in at.code if c.value.startswith("wb_")]
    assert len(shown) == 1
    token = shown[0]
    ident, _ = authenticate(engine=db.get_engine(), authorization=f"Bearer {token}")
    assert ident.name == "deploy-bot" and ident.scopes == frozenset({"read", "run"})
    with db.session_scope() as s:
        assert s.exec(select(ApiToken)).one().created_by.startswith("local:")
    at.run()  # the next draw no longer shows it
    assert not [c.value for c in at.code if c.value.startswith("wb_")]
    assert any("deploy-bot" in d.value.to_csv() for d in at.dataframe)
    assert all(token not in d.value.to_csv() for d in at.dataframe)
    at.selectbox(key="settings_tok_revoke").select("deploy-bot")
    at.button(key="settings_tok_revoke_btn").click().run()
    assert any("Revoked token deploy\\-bot" in s.value for s in at.success)
    with db.session_scope() as s:
        assert s.exec(select(ApiToken)).one().revoked_at is not None


def test_webhook_added_with_secret_once_and_bad_url_refused(engine_for_app):
    at = _open()
    at.text_input(key="settings_wh_url").input("ftp://nowhere")
    at.button(key="settings_wh_add").click().run()
    assert any("http\\(s\\) URL" in e.value for e in at.error)
    at.text_input(key="settings_wh_url").input("http://127.0.0.1:9/hook")
    at.button(key="settings_wh_add").click().run()
    assert [c.value for c in at.code if c.value.startswith("whsec_")]
    at.run()
    assert not [c.value for c in at.code if c.value.startswith("whsec_")]
    assert any("127.0.0.1:9/hook" in d.value.to_csv() for d in at.dataframe)
