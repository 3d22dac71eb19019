"""Endpoints: stored rows (name, kind, base URL, the NAME of the key's env var, limits, timeout).

The key itself is never stored: it is looked up by name at call time (`lib.secrets`), and
the name must be a key variable (`secrets.check_key_variable`). A key variable is bound to
the origin (scheme://host:port) it was first used with (`KeyBinding`); pointing any endpoint
that names it at another origin, on creation or on update, requires naming the key again,
so a key is never sent to a new host by accident.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlmodel import Session, select

from lib import audit
from lib.credentials import check_key_variable
from lib.errors import ConflictError, NotFoundError, ValidationError
from lib.identity import DELETE, ENDPOINT_WRITE, Identity, require
from lib.models import Endpoint, KeyBinding, utcnow

from .providers import KINDS, EndpointConfig, default_base_url

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# header and query names that carry a credential: those values would be stored in the database
_CREDENTIAL_NAME = re.compile(r"auth|key|token|secret|passw|cookie|signature|^sig$|session", re.IGNORECASE)
_KEY_HINT = ("put the key in an environment variable (or [keys] in .streamlit/secrets.toml) and give its name "
             "as api_key_env: an endpoint stores only the variable's name")
ECHO_CONFIG = EndpointConfig(name="echo", kind="echo", models=["echo"], max_concurrency=64, timeout_s=30.0)


def split_model_ref(ref: str) -> tuple[str, str]:
    """'endpoint/model' -> (endpoint, model); the model may itself contain '/'."""
    if not ref or "/" not in ref:
        raise ValidationError(f"model {ref!r}: expected ENDPOINT/MODEL, e.g. echo/echo")
    endpoint, model = ref.split("/", 1)
    if not endpoint or not model:
        raise ValidationError(f"model {ref!r}: expected ENDPOINT/MODEL, e.g. echo/echo")
    return endpoint, model


def host_of(url: str) -> str:
    """The host[:port] of a base URL ('' for none)."""
    return (urlsplit(url).netloc or "").lower() if url else ""


def origin_of(kind: str, base_url: str) -> str:
    """Where a key is really sent: scheme://host:port of the base URL, or of the kind's default base."""
    if not base_url:
        base_url = default_base_url(kind) if kind in KINDS else ""
        if not base_url:
            return ""
    parts = urlsplit(base_url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def to_config(row: Endpoint) -> EndpointConfig:
    """A detached, immutable config from a row (what providers and the client use)."""
    return EndpointConfig(name=row.name, kind=row.kind, base_url=row.base_url or "", api_key_env=row.api_key_env,
                          headers=dict(row.headers or {}), models=list(row.models or []), rpm=row.rpm, tpm=row.tpm,
                          max_concurrency=row.max_concurrency or 8, timeout_s=row.timeout_s or 60.0,
                          options=dict(row.options or {}))


def _validate(name: str, kind: str, base_url: str, rpm, tpm, max_concurrency, timeout_s, api_key_env) -> None:
    if not _NAME_RE.match(name or ""):
        raise ValidationError(f"endpoint name {name!r}: use letters, digits, '-', '_' or '.' (no '/')")
    if kind not in KINDS:
        raise ValidationError(f"endpoint kind {kind!r}: expected one of {', '.join(KINDS)}")
    if base_url:
        try:
            parts = urlsplit(base_url)
            parts.port  # noqa: B018 (raises ValueError on a bad port)
        except ValueError:
            raise ValidationError("base URL: not a valid URL") from None
        if "@" in parts.netloc:
            # credentials in the URL would be stored, listed (`endpoints list --json`) and sent as
            # basic auth; the URL is not echoed here because it holds them
            raise ValidationError("base URL: must not contain credentials (user:password@); put the key in "
                                  "an environment variable or secret and give its name as api_key_env")
        if parts.scheme not in ("http", "https"):
            raise ValidationError(f"base URL {base_url!r}: expected http:// or https://")
        secret = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if _CREDENTIAL_NAME.search(k)]
        if secret:  # the URL is not echoed: it holds the credential
            raise ValidationError(f"base URL: the query parameter {secret[0]!r} looks like a credential; {_KEY_HINT}")
    for label, val in (("rpm", rpm), ("tpm", tpm), ("max_concurrency", max_concurrency)):
        if val is not None and (not isinstance(val, int) or val < 1):
            raise ValidationError(f"{label} must be a positive integer, got {val!r}")
    if timeout_s is not None and (not isinstance(timeout_s, (int, float)) or timeout_s <= 0):
        raise ValidationError(f"timeout must be positive seconds, got {timeout_s!r}")
    if api_key_env:
        check_key_variable(api_key_env)


def _bind_key(session: Session, endpoint: str, kind: str, base_url: str, api_key_env: str | None,
              rebind: bool) -> None:
    """Bind a key variable to where this endpoint sends it; refuse another origin unless the key is named again."""
    if not api_key_env or kind == "echo":
        return
    origin = origin_of(kind, base_url)
    binding = session.get(KeyBinding, api_key_env)
    if binding is None:
        session.add(KeyBinding(name=api_key_env, origin=origin, endpoint=endpoint))
    elif binding.origin != origin:
        if not rebind:
            raise ValidationError(
                f"endpoint {endpoint!r}: key {api_key_env} is bound to {binding.origin} (first used by endpoint "
                f"{binding.endpoint!r}); to send it to {origin}, name the key again (--rebind-key)")
        binding.origin, binding.endpoint, binding.bound_at = origin, endpoint, utcnow()
        session.add(binding)


def _check_headers(headers: Any) -> None:
    """Refuse header names that carry a credential (Authorization, x-api-key, ...), never echoing the value."""
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise ValidationError("headers: expected an object of header names and values")
    for name in headers:
        if _CREDENTIAL_NAME.search(str(name)):
            raise ValidationError(f"header {str(name)[:60]!r} carries a credential; {_KEY_HINT}")


def _audit_view(row: Endpoint | dict) -> dict:
    """What an audit summary shows of an endpoint: settings and the key's variable NAME, never a key or header."""
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    return {"kind": get("kind"), "base_url": get("base_url") or "", "api_key_env": get("api_key_env"),
            "rpm": get("rpm"), "tpm": get("tpm"), "max_concurrency": get("max_concurrency"),
            "timeout_s": get("timeout_s"), "models": ", ".join(get("models") or []),
            "headers": ", ".join(sorted(get("headers") or {})),  # header names only
            "options": _options_view(get("options") or {})}


def _options_view(options: dict) -> str:
    """Endpoint options for an audit summary: flags and numbers with their values, other values by name only."""
    def one(k: str, v: Any) -> str:
        return f"{k}={v}" if isinstance(v, (bool, int, float)) or v is None else str(k)
    return ", ".join(one(str(k), v) for k, v in sorted(options.items()))


def add_endpoint(*, session: Session, actor: Identity, name: str, kind: str, base_url: str = "",
                 api_key_env: str | None = None, headers: dict | None = None, models: list | None = None,
                 rpm: int | None = None, tpm: int | None = None, max_concurrency: int = 8, timeout_s: float = 60.0,
                 options: dict | None = None, rebind_key: bool = False) -> Endpoint:
    """Create an endpoint row (admins; name must be new); `rebind_key` lets a key bound elsewhere go to this host."""
    require(actor, ENDPOINT_WRITE)
    _validate(name, kind, base_url, rpm, tpm, max_concurrency, timeout_s, api_key_env)
    _check_headers(headers)
    if session.exec(select(Endpoint).where(Endpoint.name == name)).first():
        raise ConflictError(f"endpoint {name!r} already exists")
    row = Endpoint(name=name, kind=kind, base_url=base_url or "", api_key_env=api_key_env or None,
                   headers=dict(headers or {}), models=list(models or (["echo"] if kind == "echo" else [])),
                   rpm=rpm, tpm=tpm, max_concurrency=max_concurrency, timeout_s=float(timeout_s),
                   options=dict(options or {}), updated_by=actor.label[:200])
    _bind_key(session, name, kind, base_url or "", api_key_env, rebind_key)
    session.add(row)
    session.flush()
    view = _audit_view(row)
    audit.record(session, actor=actor, action="endpoint.add", object_type="endpoint", object_id=name,
                 summary="- -> " + ", ".join(f"{k}={v}" for k, v in view.items() if v not in (None, "")))
    return row


def get_endpoint(*, session: Session, name: str) -> Endpoint:
    """The endpoint named `name` (NotFoundError lists the known ones)."""
    row = session.exec(select(Endpoint).where(Endpoint.name == name)).first()
    if row is None:
        known = ", ".join(e.name for e in list_endpoints(session=session)) or "none"
        raise NotFoundError(f"unknown endpoint {name!r} (known: {known})")
    return row


def list_endpoints(*, session: Session) -> list[Endpoint]:
    """Every endpoint, by name."""
    return list(session.exec(select(Endpoint).order_by(Endpoint.name)))


_UPDATABLE = ("kind", "base_url", "api_key_env", "headers", "models", "rpm", "tpm", "max_concurrency", "timeout_s",
              "options")


def update_endpoint(*, session: Session, actor: Identity, name: str, **changes: Any) -> Endpoint:
    """Change fields of an endpoint (admins); a new host is refused unless api_key_env is given in the same call."""
    require(actor, ENDPOINT_WRITE)
    row = get_endpoint(session=session, name=name)
    unknown = set(changes) - set(_UPDATABLE)
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))} of an endpoint")
    new = {k: getattr(row, k) for k in _UPDATABLE}
    new.update(changes)
    _validate(name, new["kind"], new["base_url"], new["rpm"], new["tpm"], new["max_concurrency"], new["timeout_s"],
              new["api_key_env"])
    if "headers" in changes:
        _check_headers(changes["headers"])
    # compare where the key really goes: a kind change with no base URL moves it to another
    # provider's default host, and https -> http on the same host would send it in clear text
    before, after = origin_of(row.kind, row.base_url or ""), origin_of(new["kind"], new["base_url"] or "")
    if before != after and "api_key_env" not in changes and row.api_key_env:
        raise ValidationError(
            f"endpoint {name!r}: the key's destination changes from {before or '(none)'} to "
            f"{after or '(none)'}; name the key again (api_key_env) in the same change "
            "so a key is never sent to a new host by accident")
    _bind_key(session, name, new["kind"], new["base_url"] or "", new["api_key_env"], "api_key_env" in changes)
    old_view = _audit_view(row)
    for k, v in changes.items():
        setattr(row, k, v)
    row.updated_at, row.updated_by = utcnow(), actor.label[:200]
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="endpoint.update", object_type="endpoint", object_id=name,
                 summary=audit.diff_fields(old_view, _audit_view(row)))
    _invalidate(name)
    return row


_generation = 0
_generation_lock = threading.Lock()


def config_generation() -> int:
    """A counter bumped by every endpoint change in this process (clients re-read configs when it moves)."""
    return _generation


def _invalidate(name: str) -> None:
    global _generation
    with _generation_lock:
        _generation += 1


def delete_endpoint(*, session: Session, actor: Identity, name: str) -> None:
    """Remove an endpoint (admins; its runs keep the name)."""
    require(actor, ENDPOINT_WRITE)
    require(actor, DELETE)
    row = get_endpoint(session=session, name=name)
    audit.record(session, actor=actor, action="endpoint.remove", object_type="endpoint", object_id=name,
                 summary=f"{row.kind} {row.base_url or '(default URL)'} -> -")
    session.delete(row)
    session.flush()
    _invalidate(name)


CHECK_MESSAGE_CHARS = 300
CHECK_MODELS_KEPT = 200


def record_check(*, session: Session, actor: Identity, name: str, result: dict[str, Any]) -> Endpoint:
    """Keep the result of a Test (`health()`'s dict) on the endpoint: ok, kind, short message, time (admins).

    The message is health()'s own wording (it never quotes a remote body and is scrubbed of keys); it is
    capped, and the endpoint's settings and `updated_at` are left as they are.
    """
    require(actor, ENDPOINT_WRITE)
    row = get_endpoint(session=session, name=name)
    ok = bool(result.get("ok")) and not result.get("error")
    row.last_check_ok = ok
    row.last_check_kind = "ok" if ok else (str(result.get("error_kind") or "error")[:30])
    row.last_check_message = "" if ok else str(result.get("error") or "failed")[:CHECK_MESSAGE_CHARS]
    at = result.get("at")
    row.last_check_at = at if isinstance(at, datetime) else utcnow()
    latency = result.get("latency_ms")
    row.last_check_latency_ms = float(latency) if isinstance(latency, int | float) else None
    row.last_check_models = [str(m)[:300] for m in (result.get("models") or [])][:CHECK_MODELS_KEPT] if ok else []
    session.add(row)
    session.flush()
    return row


def load_config(*, session: Session, name: str) -> EndpointConfig:
    """The config of endpoint `name`; the built-in `echo` exists even without a row."""
    row = session.exec(select(Endpoint).where(Endpoint.name == name)).first()
    if row is None:
        if name == "echo":
            return ECHO_CONFIG
        raise NotFoundError(f"unknown endpoint {name!r}: add it with `python -m lib endpoints add {name} ...`")
    return to_config(row)


def ensure_defaults(session: Session, *, actor: Identity) -> list[str]:
    """Create `echo` (and `openai` / `anthropic` when their keys are in the environment); returns names created."""
    require(actor, ENDPOINT_WRITE)
    existing = {e.name for e in list_endpoints(session=session)}
    created: list[str] = []
    if "echo" not in existing:
        add_endpoint(session=session, actor=actor, name="echo", kind="echo", models=["echo"], max_concurrency=64,
                     timeout_s=30.0)
        created.append("echo")
    # the operator's own environment names these keys and hosts, so they may (re)bind them
    if "openai" not in existing and os.environ.get("OPENAI_API_KEY"):
        base = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        try:
            add_endpoint(session=session, actor=actor, name="openai", kind="openai", base_url=base,
                         api_key_env="OPENAI_API_KEY", rebind_key=True)
        except ValidationError as exc:
            raise ValidationError(f"environment variable OPENAI_BASE_URL: {exc}") from None
        created.append("openai")
    if "anthropic" not in existing and os.environ.get("ANTHROPIC_API_KEY"):
        add_endpoint(session=session, actor=actor, name="anthropic", kind="anthropic",
                     base_url="https://api.anthropic.com",
                     api_key_env="ANTHROPIC_API_KEY", rebind_key=True)
        created.append("anthropic")
    return created
