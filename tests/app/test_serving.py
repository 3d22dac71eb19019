"""#11 item 2: with no `[auth]` section the app serves loopback only; the README says how to serve a team."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_config_binds_loopback_only():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"  # before: unset, Streamlit listens on every interface


def test_the_readme_says_how_to_serve_a_team():
    readme = (ROOT / "README.md").read_text()
    assert "Serving a team" in readme and "server.address" in readme
