"""A signed-in viewer clicks every enabled button on every page (one fresh session per button):
no exception, and no table changes except the person's own sign-in row and page state (and the
metrics rollup, which reading Metrics refreshes). The Audit page is not even in a viewer's navigation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel
from streamlit.testing.v1 import AppTest

from lib import batch, datasets, prompts
from lib.client import get_client
from lib.settings import get_settings
from lib.users import sign_in
from tests.actors import ADMIN
from tests.app.conftest import APP, TIMEOUT

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "workbench", "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}
PAGES = ["pages/home.py", "pages/prompts.py", "pages/playground.py", "pages/compare.py", "pages/batch.py",
         "pages/metrics.py", "pages/history.py", "pages/settings.py"]
OWN_OR_DERIVED = {"app_user", "pagestate", "runrollup", "latencyrollup", "metricsstate"}


def _snapshot(engine) -> dict[str, str]:
    out = {}
    with Session(engine) as s:
        for t in SQLModel.metadata.sorted_tables:
            if t.name not in OWN_OR_DERIVED:
                rows = s.execute(select(t).order_by(*t.primary_key.columns)).all()
                out[t.name] = json.dumps([list(r) for r in rows], default=str, sort_keys=True)
    return out


def _viewer(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "vic@other.test", "name": "Vic", "sub": "vic"}
    at.run()
    at.switch_page(page).run()
    return at


@pytest.fixture
def workspace(engine_for_app, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ADMINS", '["ana@acme.test"]')
    get_settings.cache_clear()
    with Session(engine_for_app) as s:
        sign_in(session=s, email="ana@acme.test")  # the first person (admin); the viewer comes second
        v = prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "{{q}}"}])
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"q\n1\n2\n", filename="d.csv", name="d")
        s.commit()
        batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id], models=["echo/echo"])
        s.commit()
    get_client(engine_for_app).generate_sync(actor=ADMIN, model="echo/echo",
                                             messages=[{"role": "user", "content": "a"}])
    return engine_for_app


@pytest.mark.parametrize("page", PAGES)
def test_a_viewer_clicking_everything_changes_nothing(workspace, page):
    before = _snapshot(workspace)
    first = _viewer(page)
    assert not first.exception, [e.value for e in first.exception]
    problems = []
    for i in range(len(first.button)):
        at = _viewer(page)
        if i >= len(at.button) or at.button[i].disabled or at.button[i].key == "auth_logout":
            continue
        b = at.button[i]
        b.click().run()
        if at.exception:
            problems.append(f"{b.key or b.label}: {[e.value for e in at.exception]}")
        after = _snapshot(workspace)
        changed = [t for t in before if before[t] != after[t]]
        if changed:
            problems.append(f"{b.key or b.label}: changed {changed}")
            before = after
    assert problems == []


def test_the_audit_page_is_not_in_a_viewers_navigation(workspace):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "vic@other.test", "name": "Vic", "sub": "vic"}
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit.py")
