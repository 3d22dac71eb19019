"""Browser tests: `streamlit run app.py` on a free loopback port with a temp database, driven by
Playwright on Debian's Chromium (/usr/bin/chromium).

Fixtures:
  streamlit_app   session: the running server -> AppServer(url, db_url, engine(), log_path)
  browser         session: headless Chromium (CI=true: fail if missing; elsewhere skip with a reason)
  page            per test: a fresh context and page; records dialogs in `page.dialogs`
  shot            per test: shot("name") saves artifacts/screenshots/<journey>/NN-name.png
Helpers: wait_idle(page), goto(page, app, path).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

try:  # imported here so a missing Playwright is reported by the `browser` fixture (skip, or fail in CI)
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    expect = None  # type: ignore[assignment]
else:
    # positive checks wait until they hold: 15 s instead of 5 s keeps a loaded 2-core machine from failing them
    expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START_TIMEOUT_S = 90.0


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    url: str
    db_url: str
    log_path: Path
    process: subprocess.Popen

    def engine(self):
        """An engine on the server's database (to arrange data and check results)."""
        from lib import db

        return db.get_engine(self.db_url)


@contextmanager
def run_streamlit(work: Path, db_url: str, *, address: str | None = "127.0.0.1", port: int | None = None,
                  args: tuple[str, ...] = (), **env_extra: str):
    """`streamlit run app.py` on a free port (or `port`) against `db_url`; yields an AppServer, stops it after.

    `address=None` passes no --server.address, so the bind comes from .streamlit/config.toml; `args` are
    more command-line options (e.g. `--secrets.files PATH`).
    """
    import httpx

    port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}  # no real provider keys
    env.update(DATABASE_URL=db_url, WORKBENCH_SEED_EXAMPLES="0", WORKBENCH_AUTHOR="e2e",
               WORKBENCH_START_WORKER=os.environ.get("WORKBENCH_E2E_WORKER", "1"),
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONUNBUFFERED="1")
    env.update(env_extra)
    log_path = work / f"streamlit-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115  (closed below, after the process)
    bind = ["--server.address", address] if address else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port), *bind,
         "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false", "--global.developmentMode", "false", *args],
        cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit not healthy after {START_TIMEOUT_S:.0f}s:\n"
                                   f"{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield AppServer(url=url, db_url=db_url, log_path=log_path, process=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        from lib import db

        db.dispose_engines()


@pytest.fixture(scope="session")
def streamlit_app(tmp_path_factory, sqlite_template):
    """The app on a free port with a fresh SQLite database, for the whole session."""
    work = tmp_path_factory.mktemp("e2e")
    db_path = work / "workbench.db"
    shutil.copy(sqlite_template, db_path)
    with run_streamlit(work, f"sqlite:///{db_path}") as app:
        yield app


@pytest.fixture(scope="session")
def browser(streamlit_app):
    """Headless Debian Chromium through Playwright, warmed up on the app's main page."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        pw.stop()
        _unavailable(f"Chromium failed to start: {exc}")
    # The first script run of a fresh server must be the main page: with a pages/ folder,
    # Streamlit uses legacy page discovery until app.py has called st.navigation once.
    warm = b.new_page()
    warm.goto(streamlit_app.url, timeout=60_000)
    warm.get_by_role("heading", name="Prompt Workbench").first.wait_for(timeout=60_000)
    warm.close()
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser, streamlit_app):
    """A fresh browser context and a fresh saved working state (pages restore a person's last set-up);
    `page.dialogs` lists every JS dialog that opened (and was dismissed)."""
    from sqlmodel import delete

    from lib.models import PageState

    with streamlit_app.engine().begin() as conn:
        conn.execute(delete(PageState))
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(20_000)
    p = context.new_page()
    p.dialogs = []

    def on_dialog(dialog):
        p.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    p.on("dialog", on_dialog)
    yield p
    context.close()


@pytest.fixture
def shot(request, page):
    """shot("name") -> path of a full-page PNG under artifacts/screenshots/<journey>/."""
    journey = Path(request.node.fspath).stem.removeprefix("test_")
    folder = SCREENSHOTS / journey
    if request.node.name.removeprefix("test_") != journey:
        folder = folder / request.node.name.removeprefix("test_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(1)

    def _shot(name: str) -> Path:
        wait_idle(page)
        path = folder / f"{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


def wait_idle(page, timeout_ms: int = 20_000) -> None:
    """Wait until Streamlit has finished the current script run (bounded)."""
    page.wait_for_timeout(150)  # let a just-sent rerun flip the state to running
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=stApp]');"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
        " && a.getAttribute('data-test-connection-state') === 'CONNECTED'; }", timeout=timeout_ms)


def goto(page, app: AppServer, path: str = "") -> None:
    """Open a page of the app (e.g. 'prompts', 'history?run=3') and wait for its first run."""
    page.goto(f"{app.url}/{path.lstrip('/')}", timeout=60_000)
    page.locator("[data-testid=stApp]").wait_for(timeout=60_000)
    wait_idle(page, 60_000)
