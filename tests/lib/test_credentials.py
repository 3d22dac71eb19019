"""Secrets: lookup order, and a whole flow with a sentinel key at DEBUG that never leaks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlmodel import Session, select

from lib.client import endpoints
from lib.client.model_client import ModelClient
from lib.credentials import get_secret, has_secret
from lib.models import Endpoint, Run
from lib.runs import queries as runs
from tests.actors import ADMIN
from tests.fakefaults import Fault

SENTINEL = "sk-SENTINEL-7f3a9c1e2b4d6f80-DO-NOT-LEAK"


def test_env_then_secrets_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('WB_FILE_KEY = "from-file"\nWB_BOTH = "file"\n')
    monkeypatch.delenv("WB_FILE_KEY", raising=False)
    monkeypatch.setenv("WB_BOTH", "env")
    assert get_secret("WB_FILE_KEY") == "from-file"
    assert get_secret("WB_BOTH") == "env"
    assert get_secret("WB_NOT_SET_ANYWHERE") is None and get_secret(None) is None
    assert has_secret("WB_FILE_KEY") and not has_secret("WB_NOT_SET_ANYWHERE")
    (tmp_path / ".streamlit" / "secrets.toml").write_text("not = [valid toml")
    assert get_secret("WB_FILE_KEY") is None  # broken file: treated as empty, never echoed


def test_sentinel_key_never_leaks(sqlite_engine, fake_server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("WB_SENTINEL_KEY", SENTINEL)
    with Session(sqlite_engine) as s:
        endpoints.add_endpoint(actor=ADMIN, session=s, name="oa", kind="openai", base_url=fake_server.url,
                               api_key_env="WB_SENTINEL_KEY")
        endpoints.add_endpoint(actor=ADMIN, session=s, name="an", kind="anthropic", base_url=fake_server.url,
                               api_key_env="WB_SENTINEL_KEY")
        s.commit()
    c = ModelClient(sqlite_engine)
    texts: list[str] = []
    try:
        msgs = [{"role": "user", "content": "hi"}]
        results = [c.generate_sync(actor=ADMIN, model="oa/m", messages=msgs), c.generate_sync(actor=ADMIN,
                                   model="an/c", messages=msgs)]
        st = c.stream_sync(actor=ADMIN, model="oa/m", messages=msgs)
        list(st)
        results.append(st.result)
        fake_server.script(Fault(status=401, body=json.dumps({"error": {"message": f"bad key {SENTINEL}"}})))
        results.append(c.generate_sync(actor=ADMIN, model="oa/m", messages=msgs))
        fake_server.script(Fault(status=500), Fault(status=429, headers={"retry-after": "0"}))
        results.append(c.generate_sync(actor=ADMIN, model="an/c", messages=msgs))
        fake_server.script(Fault(body="{oops"))
        results.append(c.generate_sync(actor=ADMIN, model="oa/m", messages=msgs))
        texts.append(json.dumps(c.health("oa")))
        with Session(sqlite_engine) as s:
            try:
                endpoints.update_endpoint(actor=ADMIN, session=s, name="oa", base_url="http://elsewhere.test")
            except Exception as exc:  # noqa: BLE001
                texts.append(str(exc) + repr(exc))
            rows, _ = runs.list_runs(session=s, page_size=100)
            texts.extend(json.dumps(runs.run_to_dict(r), default=str) for r in rows)
            texts.extend(e.model_dump_json() for e in s.exec(select(Endpoint)))
    finally:
        c.close()
    # the key did reach the server, in the right headers
    assert fake_server.requests[0].headers["Authorization"] == f"Bearer {SENTINEL}"
    assert any(r.headers.get("x-api-key") == SENTINEL for r in fake_server.requests)
    statuses = [r.status for r in results]
    assert statuses == ["ok", "ok", "ok", "error", "ok", "error"]
    assert "***" in results[3].error_message
    texts.extend(r.model_dump_json(exclude={"run"}) + (r.error_message or "") for r in results)
    texts.extend(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    texts.append(caplog.text)
    assert len(caplog.records) > 0 and len(texts) > 10
    for t in texts:
        assert SENTINEL not in t
    db_path = Path(sqlite_engine.url.database)
    blobs = [p.read_bytes() for p in db_path.parent.glob(db_path.name + "*")]
    assert blobs and all(SENTINEL.encode() not in b for b in blobs)
    with Session(sqlite_engine) as s:
        assert len(list(s.exec(select(Run)))) == 6
