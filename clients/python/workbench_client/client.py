"""`WorkbenchClient`: prompts by label or version from the workbench, cached, revalidated by ETag, and
served stale when the workbench cannot be reached (as Langfuse's SDK does).

A cached prompt younger than `cache_ttl` seconds is returned without a request; an older one is
revalidated with `If-None-Match` (a 304 costs no body); if the workbench is unreachable or answers 5xx,
the last good copy is returned with `stale=True`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from .errors import ServerError, WorkbenchConnectionError, error_from_response


@dataclass(frozen=True)
class Prompt:
    """One prompt version as served by the workbench."""

    name: str
    version: int
    messages: list[dict[str, Any]]
    template_format: str = "mustache"
    variables: list[str] = field(default_factory=list)
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    content_hash: str = ""
    etag: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    fetched_at: float = 0.0
    from_cache: bool = False
    stale: bool = False

    @property
    def tools(self) -> Any:
        """The version's tools, if any."""
        return self.params.get("tools")

    @property
    def response_format(self) -> Any:
        """The version's response format, if any."""
        return self.params.get("response_format")

    @classmethod
    def from_payload(cls, data: dict[str, Any], etag: str | None) -> Prompt:
        """A Prompt from the API's JSON."""
        return cls(name=data["name"], version=int(data["version"]), messages=list(data.get("messages") or []),
                   template_format=data.get("template_format", "mustache"),
                   variables=list(data.get("variables") or []), model=data.get("model"),
                   params=dict(data.get("params") or {}), labels=list(data.get("labels") or []),
                   content_hash=data.get("content_hash", ""), etag=etag, raw=data, fetched_at=time.time())


@dataclass
class _Stats:
    hits: int = 0
    misses: int = 0
    revalidated: int = 0
    refreshed: int = 0
    stale_served: int = 0


class WorkbenchClient:
    """Client of the workbench's prompt API (`/api/v1`); use as a context manager or call close()."""

    def __init__(self, base_url: str, token: str, cache_ttl: float = 60.0, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_ttl = float(cache_ttl)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}",
                                           "User-Agent": "workbench-client/0.1"})
        self._cache: dict[tuple[str, int | None, str | None], tuple[float, Prompt]] = {}
        self._stats = _Stats()
        self._lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.TimeoutException as exc:
            raise WorkbenchConnectionError(f"the workbench at {self.base_url} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise WorkbenchConnectionError(f"cannot reach the workbench at {self.base_url}: "
                                           f"{type(exc).__name__}") from exc
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {}
            raise error_from_response(r.status_code, body, r.headers)
        return r

    # -- prompts ------------------------------------------------------------------------------
    def get_prompt(self, name: str, version: int | None = None, label: str | None = None,
                   use_cache: bool = True) -> Prompt:
        """A prompt at a label or version (default: latest); cached, revalidated, stale if the server is down."""
        key = (name, version, label)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key) if use_cache else None
        if cached is not None and now - cached[0] < self.cache_ttl:
            with self._lock:
                self._stats.hits += 1
            return replace(cached[1], from_cache=True, stale=False)
        params: dict[str, Any] = {}
        if version is not None:
            params["version"] = version
        if label is not None:
            params["label"] = label
        headers = {"If-None-Match": cached[1].etag} if cached is not None and cached[1].etag else {}
        try:
            r = self._request("GET", f"/api/v1/prompts/{name}", params=params, headers=headers)
        except (WorkbenchConnectionError, ServerError):
            if cached is None:
                raise
            with self._lock:
                self._stats.stale_served += 1
            return replace(cached[1], from_cache=True, stale=True)
        if r.status_code == 304 and cached is not None:
            with self._lock:
                self._cache[key] = (now, cached[1])
                self._stats.revalidated += 1
            return replace(cached[1], from_cache=True, stale=False)
        prompt = Prompt.from_payload(r.json(), r.headers.get("etag"))
        with self._lock:
            if cached is None:
                self._stats.misses += 1
            else:
                self._stats.refreshed += 1
            if use_cache:
                self._cache[key] = (now, prompt)
        return prompt

    def render_prompt(self, name: str, variables: dict[str, Any], version: int | None = None,
                      label: str | None = None) -> list[dict[str, Any]]:
        """The version's messages rendered server-side (MissingVariablesError names every missing one)."""
        body: dict[str, Any] = {"variables": dict(variables)}
        if version is not None:
            body["version"] = version
        if label is not None:
            body["label"] = label
        return list(self._request("POST", f"/api/v1/prompts/{name}/render", json=body).json()["messages"])

    def list_prompts(self, search: str | None = None, tag: str | None = None, sort: str = "updated",
                     page: int = 1, page_size: int = 50) -> dict[str, Any]:
        """One page of prompts: `{data, total, page, page_size}`."""
        params: dict[str, Any] = {"sort": sort, "page": page, "page_size": page_size}
        if search:
            params["search"] = search
        if tag:
            params["tag"] = tag
        return self._request("GET", "/api/v1/prompts", params=params).json()

    def health_check(self) -> dict[str, Any]:
        """`{healthy, status, latency_ms}`; never raises (healthy False with the error instead)."""
        t0 = time.perf_counter()
        try:
            data = self._request("GET", "/health").json()
            return {"healthy": data.get("status") == "ok", **data,
                    "latency_ms": round((time.perf_counter() - t0) * 1000, 1)}
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
            return {"healthy": False, "error": str(exc), "latency_ms": round((time.perf_counter() - t0) * 1000, 1)}

    # -- cache --------------------------------------------------------------------------------
    def get_cache_stats(self) -> dict[str, Any]:
        """Hits, misses, ETag revalidations (304), refreshes (200), stale copies served, and size."""
        with self._lock:
            s = self._stats
            total = s.hits + s.misses + s.revalidated + s.refreshed + s.stale_served
            return {"hits": s.hits, "misses": s.misses, "revalidated": s.revalidated, "refreshed": s.refreshed,
                    "stale_served": s.stale_served, "size": len(self._cache),
                    "hit_rate": (s.hits + s.revalidated) / total if total else None}

    def clear_cache(self, name: str | None = None) -> int:
        """Forget cached prompts (all, or one name's); returns how many entries were dropped."""
        with self._lock:
            keys = [k for k in self._cache if name is None or k[0] == name]
            for k in keys:
                del self._cache[k]
            return len(keys)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> WorkbenchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
