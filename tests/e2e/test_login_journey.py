"""Teams journey against a real OIDC provider (`oidc-provider-mock` on a loopback port).

One app with `[auth]` in its secrets file and roles from settings: an anonymous visitor sees only
the sign-in screen on every page; the admin (the first person to sign in) adds an endpoint and moves
`production` through the confirmation dialog; the editor saves a version but cannot move
`production` or see Settings' endpoints; the viewer sees prompts and runs but cannot run or save;
sign-out works; the Audit page lists exactly those changes with the right names.
"""

from __future__ import annotations

import secrets
import shutil

import pytest
from sqlmodel import Session, select

from lib import prompts
from lib.client import get_client
from lib.db import session_scope
from lib.identity import SYSTEM
from lib.models import AuditEvent, Endpoint, Label, PromptVersion
from tests.e2e.conftest import _free_port, expect, run_streamlit, wait_idle

ADMIN, EDITOR, VIEWER = "ana@acme.test", "eli@acme.test", "vic@other.test"
pytestmark = pytest.mark.e2e


@pytest.fixture
def oidc():
    """A real OIDC provider (authorization code flow, discovery, JWKS) on a loopback port."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def team_app(tmp_path, sqlite_template, oidc):
    port = _free_port()
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "workbench"\n'
        'client_secret = "workbench-secret"\n'
        f'server_metadata_url = "{oidc}/.well-known/openid-configuration"\n')
    db_path = tmp_path / "workbench.db"
    shutil.copy(sqlite_template, db_path)
    with run_streamlit(tmp_path, f"sqlite:///{db_path}", port=port, args=("--secrets.files", str(secrets_file)),
                       WORKBENCH_START_WORKER="0", WORKBENCH_ADMINS=f'["{ADMIN}"]',
                       WORKBENCH_EDITORS='["@acme.test"]') as app:
        with session_scope(app.engine()) as s:  # the workspace before anyone signs in (set up by the operator)
            prompts.create_prompt(actor=SYSTEM, session=s, name="support", messages=[
                {"role": "user", "content": "Help {{customer}}."}])
            prompts.save_version(actor=SYSTEM, session=s, name="support", messages=[
                {"role": "user", "content": "Kindly help {{customer}}."}])
            prompts.set_label(actor=SYSTEM, session=s, name="support", label="production", version=1)
        get_client(app.engine()).generate_sync(actor=SYSTEM, model="echo/echo",
                                               messages=[{"role": "user", "content": "a recorded run"}])
        yield app


def _open(page, app, path: str = "") -> None:
    page.goto(f"{app.url}/{path}", timeout=60_000)
    page.locator("[data-testid=stApp]").wait_for(timeout=60_000)
    wait_idle(page, 60_000)


def _sign_in(page, app, email: str) -> None:
    _open(page, app)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)  # the provider's own page
    page.locator("input[name=sub]").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**", timeout=30_000)
    page.locator("[data-testid=stApp]").wait_for(timeout=60_000)
    wait_idle(page, 60_000)
    expect(page.locator("[data-testid=stSidebar]").get_by_text(email).first).to_be_visible(timeout=30_000)


def _sign_out(page) -> None:
    page.locator("[data-testid=stSidebar]").get_by_role("button", name="Sign out").click()
    # Streamlit ends the provider's session too (RP-initiated logout): the provider asks, then sends us back
    page.wait_for_url("**/oauth2/end_session**", timeout=30_000)
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)


def _type(page, locator, text: str) -> None:
    locator.fill(text)
    locator.press("Tab")
    wait_idle(page)


def test_team_journey(browser, team_app):
    app = team_app
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        # anonymous: the sign-in screen on every path, and nothing of the workspace
        for path in ("", "prompts", "prompts?prompt=support", "settings", "history", "audit"):
            _open(page, app, path)
            expect(page.get_by_text("Sign in to continue.")).to_be_visible()
            body = page.locator("[data-testid=stApp]").inner_text()
            assert "support" not in body and "Endpoints" not in body and "Help" not in body, path
            assert page.locator("[data-testid=stSidebarNav]").count() == 0

        # admin (first to sign in, and listed in admins): adds an endpoint, moves production after the dialog
        _sign_in(page, app, ADMIN)
        expect(page.locator("[data-testid=stSidebar]").get_by_text("admin").first).to_be_visible()
        _open(page, app, "settings")
        page.get_by_text("Add an endpoint").click()
        _type(page, page.get_by_placeholder("e.g. local-vllm"), "team-echo")
        _type(page, page.get_by_placeholder("https://api.openai.com/v1"), "http://127.0.0.1:9/v1")
        page.get_by_role("button", name="Add endpoint").click()
        wait_idle(page)
        expect(page.get_by_text("team-echo").first).to_be_visible()
        _open(page, app, "prompts?prompt=support")
        page.get_by_role("tab", name="Labels").click()
        page.get_by_role("button", name="Promote").click()  # version 2, label production (the defaults)
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("v1 → v2")).to_be_visible()
        expect(dialog.locator("[data-testid=stCode]")).to_contain_text("+Kindly help {{customer}}.")
        dialog.get_by_role("button", name="Move production to v2").click()
        expect(page.get_by_text("production now points at support v2.")).to_be_visible()
        _sign_out(page)

        # editor: saves a version; production and Settings' endpoints are out of reach
        _sign_in(page, app, EDITOR)
        _open(page, app, "prompts?prompt=support")
        _type(page, page.get_by_label("Message 1 content"), "Please help {{customer}} today.")
        _type(page, page.get_by_label("Commit message"), "editor's wording")
        page.get_by_role("button", name="Save version").click()
        expect(page.get_by_text("Saved support v3.")).to_be_visible()
        page.get_by_role("tab", name="Labels").click()
        wait_idle(page)  # a rerun can briefly show the previous run's Promote beside the new one
        expect(page.get_by_role("button", name="Promote").first).to_be_disabled()
        expect(page.get_by_text("production is protected: only admins can move it.").first).to_be_visible()
        _open(page, app, "settings")
        expect(page.get_by_text("Endpoints, keys and prices are managed by admins.")).to_be_visible()
        main = page.locator("[data-testid=stMain]")  # (the sidebar lists endpoint names to everyone)
        assert main.get_by_text("Add an endpoint").count() == 0 and main.get_by_text("team-echo").count() == 0
        assert page.locator("[data-testid=stSidebarNav]").get_by_text("Audit").count() == 0
        _sign_out(page)

        # viewer: reads prompts and runs, cannot run or save
        _sign_in(page, app, VIEWER)
        _open(page, app, "prompts?prompt=support")
        expect(page.get_by_role("heading", name="support").first).to_be_visible()
        expect(page.get_by_role("button", name="Save version")).to_be_disabled()
        expect(page.get_by_role("button", name="New prompt")).to_be_disabled()
        _open(page, app, "history")
        expect(page.get_by_text("1 run ·", exact=False)).to_be_visible()
        _open(page, app, "playground")
        expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
        _sign_out(page)

        # the admin's audit page: exactly the people's changes, with their names
        _sign_in(page, app, ADMIN)
        _open(page, app, "audit")
        table = page.locator("[data-testid=stDataFrame]").first
        expect(table).to_be_visible()
        with Session(app.engine()) as s:
            total = len(s.exec(select(AuditEvent)).all())
        expect(page.get_by_text(f"{total} events")).to_be_visible()  # the setup (by system) and the people
        expect(page.get_by_role("button", name="Export CSV")).to_be_visible()
    except Exception:
        page.screenshot(path=str(app.log_path.parent / "failure.png"), full_page=True)
        print(app.log_path.read_text()[-4000:])
        raise
    finally:
        context.close()

    with Session(app.engine()) as s:
        every = [(e.actor, e.action, e.object_id) for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))]
        people = [e for e in every if not e[0].startswith("system:")]
        assert [e for e in every if e[0].startswith("system:")] == [  # start-up, then the setup above
            ("system:workbench", "endpoint.add", "echo"), ("system:workbench", "prompt.create", "support"),
            ("system:workbench", "prompt.version", "support"),
            ("system:workbench", "label.move", "support@production")], every
        assert people == [(ADMIN, "role.set", ADMIN), (ADMIN, "endpoint.add", "team-echo"),
                          (ADMIN, "label.move", "support@production"), (EDITOR, "prompt.version", "support")]
        assert s.exec(select(Endpoint).where(Endpoint.name == "team-echo")).one().updated_by == ADMIN
        v3 = s.exec(select(PromptVersion).where(PromptVersion.number == 3)).one()
        assert v3.author == EDITOR
        production = s.exec(select(Label).where(Label.name == "production")).one()
        assert s.get(PromptVersion, production.version_id).number == 2
