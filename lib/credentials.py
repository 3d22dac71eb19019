"""API key lookup by NAME: the environment first, then `.streamlit/secrets.toml`.

Only a *key variable* may be looked up for an endpoint: a name that matches the settings'
key allowlist (default `*_API_KEY`, `*_API_TOKEN`, `*_KEY`) and none of its denylist
(`AWS_*`, `DATABASE_URL`, `*PASSWORD*`, ...), or a name listed in the `[keys]` table of
secrets.toml. So an endpoint can never be pointed at `DATABASE_URL` or
`AWS_SECRET_ACCESS_KEY` to send that value to a host of someone's choosing.

Keys are read at call time and returned to the caller only; this module never logs,
stores or formats a key's value into a message.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import tomllib
from pathlib import Path

from lib.errors import ValidationError
from lib.settings import ROOT, get_settings

_cache: dict[Path, tuple[float, dict]] = {}
_lock = threading.Lock()
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


def secrets_files() -> list[Path]:
    """Where secrets.toml is looked for: the project, the working directory, then the home folder."""
    paths = [ROOT / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml",
             Path.home() / ".streamlit" / "secrets.toml"]
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def _read(path: Path) -> dict:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    with _lock:
        hit = _cache.get(path)
        if hit and hit[0] == mtime:
            return hit[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        data = {}  # an unreadable secrets file is treated as empty (its text is never echoed)
    with _lock:
        _cache[path] = (mtime, data)
    return data


def secrets_table(name: str) -> dict:
    """The `[name]` table of the first secrets.toml that has one (e.g. `auth`, `roles`), or {}."""
    for path in secrets_files():
        table = _read(path).get(name)
        if isinstance(table, dict):
            return table
    return {}


def _keys_table(path: Path) -> dict:
    table = _read(path).get("keys")
    return table if isinstance(table, dict) else {}


def key_table_names() -> list[str]:
    """Names declared in the `[keys]` table of any secrets.toml (each one is a key variable)."""
    names: list[str] = []
    for path in secrets_files():
        names.extend(n for n in _keys_table(path) if isinstance(n, str) and n not in names)
    return names


def key_variable_problem(name: str | None) -> str | None:
    """Why `name` may not be an endpoint's key variable (one line), or None when it may."""
    if not name:
        return None
    if not _NAME_RE.match(name):
        return (f"key variable {name[:60]!r}: must be the NAME of an environment variable or secret "
                "(letters, digits, underscore), not the key itself")
    if name in key_table_names():
        return None
    s = get_settings()
    upper = name.upper()
    if any(fnmatch.fnmatchcase(upper, pat.upper()) for pat in s.key_env_deny):
        return (f"key variable {name!r} is on the denylist of non-LLM secrets; name an API key variable "
                "(e.g. OPENAI_API_KEY) or list it in the [keys] table of .streamlit/secrets.toml")
    if not any(fnmatch.fnmatchcase(upper, pat.upper()) for pat in s.key_env_allow):
        allowed = ", ".join(s.key_env_allow)
        return (f"key variable {name!r} is not a key variable (allowed: {allowed}, or an entry of the "
                "[keys] table of .streamlit/secrets.toml)")
    return None


def check_key_variable(name: str | None) -> None:
    """Raise ValidationError (one line, never a value) unless `name` may be an endpoint's key variable."""
    problem = key_variable_problem(name)
    if problem:
        raise ValidationError(problem)


def get_secret(name: str | None) -> str | None:
    """The value of secret `name` (env var, then `[keys]`, then a top-level key of secrets.toml), or None."""
    if not name:
        return None
    val = os.environ.get(name)
    if val:
        return val
    for path in secrets_files():
        for table in (_keys_table(path), _read(path)):
            v = table.get(name)
            if isinstance(v, str) and v:
                return v
    return None


def get_key(name: str | None) -> str | None:
    """An endpoint's key by its variable's name; refuses (ValidationError) a name that is not a key variable."""
    if not name:
        return None
    check_key_variable(name)
    return get_secret(name)


def has_secret(name: str | None) -> bool:
    """Whether secret `name` is set (for status displays; never the value)."""
    return get_secret(name) is not None
