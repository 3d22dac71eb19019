"""Sign-in: roles follow e-mail addresses, so an address the provider marks unverified is refused."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from lib import users
from lib.errors import ValidationError
from lib.models import AuditEvent, User
from lib.settings import get_settings


@pytest.mark.parametrize("flag", [False, "false"])
def test_an_unverified_address_is_refused_and_nothing_is_written(engine, monkeypatch, flag):
    monkeypatch.setenv("WORKBENCH_ADMINS", '["ana@acme.test"]')
    with Session(engine) as s:
        with pytest.raises(ValidationError, match="ana@acme.test is not verified"):
            users.sign_in(session=s, email="ana@acme.test", email_verified=flag)
        assert s.exec(select(User)).all() == [] and s.exec(select(AuditEvent)).all() == []


def test_verified_or_unstated_addresses_get_their_configured_role(engine, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ADMINS", '["ana@acme.test"]')
    monkeypatch.setenv("WORKBENCH_EDITORS", '["@acme.test"]')
    get_settings.cache_clear()
    with Session(engine) as s:
        assert users.sign_in(session=s, email="first@other.test").role == "admin"  # empty workspace
        assert users.sign_in(session=s, email="Ana@acme.test", email_verified=True).role == "admin"
        assert users.sign_in(session=s, email="eli@acme.test").role == "editor"
        assert users.sign_in(session=s, email="vic@other.test", email_verified="true").role == "viewer"
