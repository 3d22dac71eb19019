"""Prices and cost: bundled `genai-prices` data, overridden per model by rows of the Price table.

An unknown price gives cost None (shown as unknown), never 0.  Echo is free (0).
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lib import audit
from lib.errors import ValidationError
from lib.identity import PRICE_WRITE, Identity, require
from lib.models import Price, utcnow

from .providers import PRICE_HOSTS, PROVIDERS, EndpointConfig

_OVERRIDE_TTL_S = 2.0
# per engine: (read at, the override table, the prices resolved from it so far: one lookup per model, not per call)
_overrides: dict[int, tuple[float, dict[tuple[str, str], PriceInfo], dict[tuple, PriceInfo | None]]] = {}
_lock = threading.Lock()


class PriceInfo(NamedTuple):
    """USD per 1M tokens; None = unknown."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_per_mtok: float | None
    source: str


def _num(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, (int, float, Decimal)):
        return float(v)
    base = getattr(v, "base", None)  # tiered prices: take the base tier
    return float(base) if base is not None else None


def bundled_provider(endpoint: EndpointConfig) -> tuple[str | None, str | None]:
    """(provider_id, provider_api_url) to look prices up with, from options or the base URL's host."""
    if endpoint.options.get("price_provider"):
        return str(endpoint.options["price_provider"]), None
    host = (urlsplit(endpoint.base_url).hostname or "").lower() if endpoint.base_url else ""
    if not endpoint.base_url:
        cls = PROVIDERS.get(endpoint.kind)
        return (cls.price_provider if cls is not None else None), None
    if host in PRICE_HOSTS:
        return PRICE_HOSTS[host], None
    return None, endpoint.base_url


@functools.lru_cache(maxsize=4096)
def bundled_price(model: str, provider_id: str | None, provider_api_url: str | None) -> PriceInfo | None:
    """The genai-prices price of a model, or None when the bundled data does not know it."""
    import genai_prices

    if provider_id is None and provider_api_url is None:
        return None
    try:
        kw = {"provider_id": provider_id} if provider_id else {"provider_api_url": provider_api_url}
        calc = genai_prices.calc_price(genai_prices.Usage(input_tokens=1, output_tokens=1), model, **kw)
    except (LookupError, ValueError):
        return None
    mp = calc.model_price
    return PriceInfo(_num(mp.input_mtok), _num(mp.output_mtok), _num(getattr(mp, "cache_read_mtok", None)),
                     f"genai-prices {genai_prices.__version__} ({calc.provider.id}/{calc.model.id})")


def _override_entry(engine: Engine) -> tuple[float, dict[tuple[str, str], PriceInfo], dict[tuple, PriceInfo | None]]:
    key = id(engine)  # not str(engine.url): rendering a URL on every call is measurable at 1,000 calls/s
    now = time.monotonic()
    with _lock:
        hit = _overrides.get(key)
        if hit and now - hit[0] < _OVERRIDE_TTL_S:
            return hit
    with Session(engine) as s:
        rows = list(s.exec(select(Price)))
    table = {(r.provider or "", r.model): PriceInfo(r.input_per_mtok, r.output_per_mtok, r.cached_per_mtok,
                                                    r.source or "manual") for r in rows}
    entry = (now, table, {})
    with _lock:
        _overrides[key] = entry
    return entry


def _override_table(engine: Engine) -> dict[tuple[str, str], PriceInfo]:
    return _override_entry(engine)[1]


def invalidate() -> None:
    """Forget cached overrides (after an edit)."""
    with _lock:
        _overrides.clear()


def price_for(endpoint: EndpointConfig, model: str, engine: Engine | None = None) -> PriceInfo | None:
    """The price in force: an override for (endpoint, model), then for ('', model), then the bundled one."""
    if engine is None:
        return _resolve(endpoint, model, None)
    _, table, resolved = _override_entry(engine)
    # what the answer depends on; resolved again whenever the override table is re-read (every 2 s) or invalidated
    key = (endpoint.name, endpoint.kind, endpoint.base_url, endpoint.options.get("price_provider"), model)
    try:
        return resolved[key]
    except KeyError:
        price = resolved[key] = _resolve(endpoint, model, table)
        return price
    except TypeError:  # an unhashable price_provider option: look it up every time
        return _resolve(endpoint, model, table)


def _resolve(endpoint: EndpointConfig, model: str, table: dict[tuple[str, str], PriceInfo] | None) -> PriceInfo | None:
    cls = PROVIDERS.get(endpoint.kind)
    if cls is not None and cls.free:
        return PriceInfo(0.0, 0.0, 0.0, f"{endpoint.kind} is free")
    if table is not None:
        hit = table.get((endpoint.name, model)) or table.get(("", model))
        if hit is not None:
            return hit
    pid, url = bundled_provider(endpoint)
    return bundled_price(model, pid, url)


def cost_usd(price: PriceInfo | None, prompt_tokens: int | None, completion_tokens: int | None,
             cached_tokens: int | None = None) -> float | None:
    """Cost of a call in USD, or None when the price or the usage is unknown."""
    if price is None or prompt_tokens is None or completion_tokens is None:
        return None
    if price.input_per_mtok is None or price.output_per_mtok is None:
        return None
    cached = min(cached_tokens or 0, prompt_tokens) if price.cached_per_mtok is not None else 0
    total = ((prompt_tokens - cached) * price.input_per_mtok + cached * (price.cached_per_mtok or 0.0)
             + completion_tokens * price.output_per_mtok) / 1_000_000
    return round(total, 10)


def _price_text(row: Price | None) -> str | None:
    if row is None:
        return None
    return (f"in {row.input_per_mtok}, out {row.output_per_mtok}, cached {row.cached_per_mtok} USD/1M "
            f"({row.source})")


def set_override(*, session: Session, actor: Identity, model: str, provider: str = "",
                 input_per_mtok: float | None, output_per_mtok: float | None, cached_per_mtok: float | None = None,
                 source: str = "manual", effective_date: datetime | date | None = None) -> Price:
    """Create or replace the price override of (provider, model) (admins); provider '' applies to every endpoint."""
    require(actor, PRICE_WRITE)
    if not model:
        raise ValidationError("price override needs a model")
    for label, v in (("input", input_per_mtok), ("output", output_per_mtok), ("cached", cached_per_mtok)):
        if v is not None and (not isinstance(v, (int, float)) or v < 0):
            raise ValidationError(f"{label} price must be a non-negative number of USD per 1M tokens, got {v!r}")
    row = session.exec(select(Price).where(Price.provider == (provider or ""), Price.model == model)).first()
    before = _price_text(row)
    if row is None:
        row = Price(provider=provider or "", model=model)
    row.input_per_mtok, row.output_per_mtok, row.cached_per_mtok = input_per_mtok, output_per_mtok, cached_per_mtok
    if isinstance(effective_date, date) and not isinstance(effective_date, datetime):
        effective_date = datetime(effective_date.year, effective_date.month, effective_date.day, tzinfo=UTC)
    row.source, row.updated_at, row.effective_date = source, utcnow(), effective_date or utcnow()
    row.updated_by = actor.label[:200]
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="price.set", object_type="price",
                 object_id=f"{provider}/{model}" if provider else model, summary=audit.change(before, _price_text(row)))
    invalidate()
    return row


def delete_override(*, session: Session, actor: Identity, model: str, provider: str = "") -> bool:
    """Remove an override (admins); True if one existed."""
    require(actor, PRICE_WRITE)
    row = session.exec(select(Price).where(Price.provider == (provider or ""), Price.model == model)).first()
    if row is None:
        return False
    audit.record(session, actor=actor, action="price.delete", object_type="price",
                 object_id=f"{provider}/{model}" if provider else model, summary=audit.change(_price_text(row), None))
    session.delete(row)
    session.flush()
    invalidate()
    return True


def list_prices(*, session: Session, include_bundled: bool = False, search: str | None = None) -> list[dict]:
    """Overrides (and optionally every bundled model price), as dicts for the Settings page."""
    out = [{"provider": r.provider, "model": r.model, "input_per_mtok": r.input_per_mtok,
            "output_per_mtok": r.output_per_mtok, "cached_per_mtok": r.cached_per_mtok, "source": r.source,
            "effective": r.effective_date.date().isoformat() if r.effective_date else None,
            "updated": r.updated_at.strftime("%Y-%m-%d %H:%M") if r.updated_at else None, "override": True}
           for r in session.exec(select(Price).order_by(Price.provider, Price.model))]
    if include_bundled:
        from genai_prices import data_snapshot

        for prov in data_snapshot.get_snapshot().providers:
            for m in prov.models:
                prices = m.prices if not isinstance(m.prices, list) else (m.prices[-1].prices if m.prices else None)
                if prices is None:
                    continue
                out.append({"provider": prov.id, "model": m.id, "input_per_mtok": _num(prices.input_mtok),
                            "output_per_mtok": _num(prices.output_mtok),
                            "cached_per_mtok": _num(getattr(prices, "cache_read_mtok", None)),
                            "source": "genai-prices", "effective": None, "updated": None, "override": False})
    if search:
        q = search.lower()
        out = [r for r in out if q in r["model"].lower() or q in (r["provider"] or "").lower()]
    return out
