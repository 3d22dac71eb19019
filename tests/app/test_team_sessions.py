"""AppTest with `[auth]` and signed-in people (AppTest.user): per-person state and sign-in checks.

- #12 item 6: one person's working state (Playground values) never shows for another, and comes back
  for the same person in a new browser session.
- An e-mail address the login provider marks unverified gets no role by address (admins / editors
  lists match addresses): it is refused on a clear screen, and no user row is created.
"""

from __future__ import annotations

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from lib import batch, datasets, db, prompts
from lib.models import User
from lib.settings import get_settings
from tests.actors import ADMIN
from tests.app.conftest import APP, TIMEOUT, values

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "workbench", "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


def _as(email: str, page: str | None = None, **claims) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": email, "name": email.split("@")[0], "sub": email, **claims}
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_working_state_is_per_person(engine_for_app, monkeypatch):
    monkeypatch.setenv("WORKBENCH_EDITORS", '["@acme.test"]')
    get_settings.cache_clear()
    with db.session_scope(engine_for_app) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="kept", model="echo/echo",
                              messages=[{"role": "user", "content": "Write about {{subject}}."}])
    ana = _as("ana@acme.test", "pages/playground.py")
    ana.text_area(key="play_var_subject").input("ana's secret plan").run()
    eli = _as("eli@acme.test", "pages/playground.py")
    assert eli.text_area(key="play_var_subject").value != "ana's secret plan"
    eli.text_area(key="play_var_subject").input("eli's topic").run()
    again = _as("ana@acme.test", "pages/playground.py")  # Ana in a new browser session
    assert again.text_area(key="play_var_subject").value == "ana's secret plan"


def test_unverified_email_gets_no_role_by_address(engine_for_app, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ADMINS", '["ana@acme.test"]')
    get_settings.cache_clear()
    _as("first@acme.test")  # the workspace is not empty any more (the first person became admin)
    at = _as("ana@acme.test", email_verified=False)
    assert any("not verified" in e for e in values(at.error)), values(at.error)
    assert not at.sidebar.markdown or all("ana@acme.test" not in m.value for m in at.sidebar.markdown)
    with db.session_scope(engine_for_app) as s:
        assert s.exec(select(User).where(User.email == "ana@acme.test")).first() is None
    ok = _as("ana@acme.test", email_verified=True)
    assert not ok.error


def test_a_viewer_sees_the_job_controls_off_and_clicks_change_nothing(engine_for_app, monkeypatch):
    """The pages hide what a role cannot do (lib refuses below them): a viewer on the Batch page had Pause and
    Cancel enabled, and clicking them only showed the refusal."""
    monkeypatch.setenv("WORKBENCH_ADMINS", '["ana@acme.test"]')
    get_settings.cache_clear()
    _as("ana@acme.test")
    with db.session_scope(engine_for_app) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="p", messages=[{"role": "user", "content": "{{q}}"}])
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=b"q\n1\n2\n", filename="d.csv", name="d")
        s.commit()
        batch.submit(actor=ADMIN, session=s, dataset_id=ds.id, version_ids=[v.id], models=["echo/echo"])
    at = _as("vic@other.test", "pages/batch.py")
    controls = {b.key: b.disabled for b in at.button if b.key in ("batch_pause", "batch_resume", "batch_cancel",
                                                                   "batch_retry", "batch_start")}
    assert controls and all(controls.values()), controls
    assert any("viewer" in c for c in [*values(at.caption), *values(at.info)]), "no word on why"
