"""Prices: bundled genai-prices data, per-model overrides, unknown = None, echo = 0."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from lib.client import pricing
from lib.client.providers.base import EndpointConfig
from lib.errors import ValidationError
from tests.actors import ADMIN

OPENAI = EndpointConfig(name="openai", kind="openai", base_url="https://api.openai.com/v1")
LOCAL = EndpointConfig(name="local", kind="openai", base_url="http://127.0.0.1:8000")
GATEWAY = EndpointConfig(name="gw", kind="openai", base_url="http://litellm:4000", options={"price_provider": "openai"})


def test_bundled_price_and_cost():
    p = pricing.price_for(OPENAI, "gpt-4o-mini")
    assert p is not None and p.input_per_mtok == pytest.approx(0.15) and p.output_per_mtok == pytest.approx(0.6)
    assert "genai-prices" in p.source
    assert pricing.cost_usd(p, 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert pricing.price_for(GATEWAY, "gpt-4o-mini") == p


def test_unknown_is_none_never_zero():
    assert pricing.price_for(OPENAI, "no-such-model-xyz") is None
    assert pricing.price_for(LOCAL, "gpt-4o-mini") is None
    assert pricing.cost_usd(None, 10, 10) is None
    assert pricing.cost_usd(pricing.PriceInfo(1.0, None, None, "x"), 10, 10) is None
    assert pricing.cost_usd(pricing.PriceInfo(1.0, 1.0, None, "x"), None, 10) is None


def test_echo_is_free():
    echo = EndpointConfig(name="echo", kind="echo")
    assert pricing.cost_usd(pricing.price_for(echo, "echo"), 100, 100) == 0.0


def test_cached_tokens_priced_separately():
    p = pricing.PriceInfo(2.0, 8.0, 0.5, "t")
    assert pricing.cost_usd(p, 1000, 100, cached_tokens=400) == pytest.approx((600 * 2 + 400 * 0.5 + 100 * 8) / 1e6)


def test_overrides_win_and_list(engine):
    with Session(engine) as s:
        pricing.set_override(actor=ADMIN, session=s, model="gpt-4o-mini", input_per_mtok=9.0, output_per_mtok=9.0)
        pricing.set_override(actor=ADMIN, session=s, provider="local", model="llama3", input_per_mtok=0.0,
                             output_per_mtok=0.0)
        s.commit()
        assert pricing.price_for(OPENAI, "gpt-4o-mini", engine).input_per_mtok == 9.0
        assert pricing.price_for(LOCAL, "llama3", engine).output_per_mtok == 0.0
        assert pricing.cost_usd(pricing.price_for(LOCAL, "llama3", engine), 5, 5) == 0.0
        pricing.set_override(actor=ADMIN, session=s, model="gpt-4o-mini", input_per_mtok=1.0, output_per_mtok=2.0)
        s.commit()
        assert pricing.price_for(OPENAI, "gpt-4o-mini", engine).input_per_mtok == 1.0
        rows = pricing.list_prices(session=s)
        assert {(r["provider"], r["model"]) for r in rows} == {("", "gpt-4o-mini"), ("local", "llama3")}
        bundled = pricing.list_prices(session=s, include_bundled=True, search="gpt-4o")
        assert any(not r["override"] and r["model"].startswith("gpt-4o") for r in bundled)
        assert pricing.delete_override(actor=ADMIN, session=s, model="gpt-4o-mini")
        s.commit()
        assert pricing.price_for(OPENAI, "gpt-4o-mini", engine).input_per_mtok == pytest.approx(0.15)
        with pytest.raises(ValidationError):
            pricing.set_override(actor=ADMIN, session=s, model="m", input_per_mtok=-1, output_per_mtok=1)


def test_override_keeps_source_and_effective_date(engine):
    from datetime import date

    with Session(engine) as s:
        pricing.set_override(actor=ADMIN, session=s, model="my-model", provider="gateway", input_per_mtok=1.5,
                             output_per_mtok=3.0, source="invoice 2026-11", effective_date=date(2026, 11, 1))
        s.commit()
        rows = pricing.list_prices(session=s)
    assert [(r["model"], r["source"], r["effective"]) for r in rows] == [("my-model", "invoice 2026-11", "2026-11-01")]
    assert rows[0]["updated"] is not None
