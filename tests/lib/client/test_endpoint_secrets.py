"""An endpoint stores the NAME of its key variable, never a key: a credential in a header or in the base
URL's query string is refused (without echoing it) from lib, so the CLI and Settings refuse it too."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from lib.client import endpoints
from lib.errors import ValidationError
from lib.models import AuditEvent, Endpoint
from tests.actors import ADMIN

SECRET = "sk-live-SECRET123"


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "api-key", "X-Goog-Api-Key", "Cookie",
                                    "x-portkey-api-key", "X-Auth-Token", "Proxy-Authorization"])
def test_a_credential_header_is_refused_and_nothing_is_stored(engine, header):
    with Session(engine) as s:
        with pytest.raises(ValidationError, match="api_key_env") as info:
            endpoints.add_endpoint(actor=ADMIN, session=s, name="x", kind="openai",
                                   base_url="https://api.example.com/v1", headers={header: f"Bearer {SECRET}"})
        assert SECRET not in str(info.value) and header in str(info.value)
        s.rollback()
        endpoints.add_endpoint(actor=ADMIN, session=s, name="ok", kind="openai", base_url="https://api.example.com/v1",
                               headers={"OpenAI-Organization": "org-1", "anthropic-beta": "x", "HTTP-Referer": "y"})
        s.commit()
        with pytest.raises(ValidationError, match="api_key_env"):
            endpoints.update_endpoint(actor=ADMIN, session=s, name="ok", headers={header: SECRET})
        s.rollback()
        assert endpoints.get_endpoint(session=s, name="ok").headers == {
            "OpenAI-Organization": "org-1", "anthropic-beta": "x", "HTTP-Referer": "y"}
        stored = " ".join(str(e.headers) for e in s.exec(select(Endpoint)))
        stored += " ".join(e.summary for e in s.exec(select(AuditEvent)))
        assert SECRET not in stored


@pytest.mark.parametrize("query", [f"key={SECRET}", f"api_key={SECRET}", f"x=1&access_token={SECRET}",
                                   f"apiKey={SECRET}"])
def test_a_key_in_the_base_urls_query_is_refused(engine, query):
    with Session(engine) as s:
        with pytest.raises(ValidationError, match="api_key_env") as info:
            endpoints.add_endpoint(actor=ADMIN, session=s, name="g", kind="openai",
                                   base_url=f"https://gen.example.com/v1beta/openai?{query}")
        assert SECRET not in str(info.value)
        s.rollback()
        azure = "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21"
        row = endpoints.add_endpoint(actor=ADMIN, session=s, name="az", kind="openai", base_url=azure)
        assert row.base_url == azure
