"""The API refuses a write token the team's configured protected labels (settings `protected_labels`, the one
source of truth the pages and lib use too) and lets it move every other label."""

from __future__ import annotations

import httpx

from lib.settings import get_settings
from tests.api.conftest import seed_support


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _move(api, token: str, label: str, version: int) -> httpx.Response:
    return httpx.put(f"{api.url}/api/v1/prompts/support-reply/labels/{label}", json={"version": version},
                     headers=_h(token), timeout=10)


def test_configured_protected_labels_over_the_api(api, tokens, monkeypatch):
    seed_support(api.engine)  # production -> v1
    monkeypatch.setenv("WORKBENCH_PROTECTED_LABELS", '["live", "prod-eu"]')
    get_settings.cache_clear()
    try:
        for label in ("live", "prod-eu"):
            r = _move(api, tokens["write"], label, 1)
            assert r.status_code == 403, r.text
            assert r.json()["error"]["type"] == "permission_error"
            assert "label.move_protected" in r.json()["error"]["message"]
        # `production` is not protected in this team's settings: a write token moves it
        r = _move(api, tokens["write"], "production", 1)
        assert r.status_code == 200 and r.json()["all_labels"]["production"] == 1, r.text
        r = _move(api, tokens["write"], "staging", 1)
        assert r.status_code == 200 and r.json()["all_labels"] == {"production": 1, "staging": 1}
        fetched = httpx.get(f"{api.url}/api/v1/prompts/support-reply", params={"label": "staging"},
                            headers=_h(tokens["read"]), timeout=10)
        assert fetched.status_code == 200 and fetched.json()["version"] == 1
        assert "live" not in fetched.json()["all_labels"]  # nothing moved by the refused calls
    finally:
        monkeypatch.delenv("WORKBENCH_PROTECTED_LABELS")
        get_settings.cache_clear()
    r = _move(api, tokens["write"], "production", 1)  # back to the default: production is protected
    assert r.status_code == 403
