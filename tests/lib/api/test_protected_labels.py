"""The HTTP label route follows the configured protected labels (WORKBENCH_PROTECTED_LABELS), as lib does."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from lib import prompts
from lib.api.prompt_payloads import move_label
from lib.errors import PermissionDeniedError
from lib.identity import Identity
from lib.settings import get_settings
from tests.actors import ADMIN

CI = Identity(kind="token", name="ci", scopes=frozenset({"write"}))


def _prompt(s: Session) -> None:
    prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "a"}])
    prompts.save_version(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "b"}])
    s.commit()


def test_a_write_token_moves_production_once_it_is_not_protected(sqlite_engine, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROTECTED_LABELS", '["release"]')
    get_settings.cache_clear()
    with Session(sqlite_engine) as s:
        _prompt(s)
        assert move_label(session=s, actor=CI, name="p", label="production", version=2)["version"] == 2
        with pytest.raises(PermissionDeniedError, match="label.move_protected"):
            move_label(session=s, actor=CI, name="p", label="release", version=2)
    get_settings.cache_clear()
