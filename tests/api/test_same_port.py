"""`streamlit run app.py` serves the HTTP API on the Streamlit port, beside the pages (st.App routes)."""

from __future__ import annotations

import httpx
import openai

from tests.api.conftest import make_token, seed_support
from tests.e2e.conftest import run_streamlit


def test_api_and_gateway_answer_on_the_streamlit_port(tmp_path, sqlite_template):
    db_path = tmp_path / "wb.db"
    db_path.write_bytes(sqlite_template.read_bytes())
    with run_streamlit(tmp_path, f"sqlite:///{db_path}", WORKBENCH_START_WORKER="0") as app:
        engine = app.engine()
        seed_support(engine)
        token = make_token(engine, "same-port", "run")
        assert httpx.get(f"{app.url}/health", timeout=10).json()["status"] == "ok"
        r = httpx.get(f"{app.url}/api/v1/prompts/support-reply", params={"label": "production"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200 and r.json()["version"] == 1
        assert httpx.get(f"{app.url}/api/openapi.json", timeout=10).json()["info"]["title"]
        assert httpx.get(f"{app.url}/api/docs", timeout=10).status_code == 200
        c = openai.OpenAI(base_url=f"{app.url}/v1", api_key=token, max_retries=0, timeout=20)
        out = c.chat.completions.create(model="echo/echo", messages=[{"role": "user", "content": "same port"}])
        assert "same port" in out.choices[0].message.content
        page = httpx.get(app.url, timeout=10)  # the pages are still there
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert httpx.get(f"{app.url}/_stcore/health", timeout=10).status_code == 200
