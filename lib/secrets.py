"""API key lookup by NAME: the environment first, then `.streamlit/secrets.toml`.

Keys are read at call time and returned to the caller only; this module never logs,
stores or formats a key's value into a message.
"""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path

from .settings import ROOT

_cache: dict[Path, tuple[float, dict]] = {}
_lock = threading.Lock()


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


def get_secret(name: str | None) -> str | None:
    """The value of secret `name` (env var, then a top-level key of secrets.toml), or None."""
    if not name:
        return None
    val = os.environ.get(name)
    if val:
        return val
    for path in secrets_files():
        v = _read(path).get(name)
        if isinstance(v, str) and v:
            return v
    return None


def has_secret(name: str | None) -> bool:
    """Whether secret `name` is set (for status displays; never the value)."""
    return get_secret(name) is not None
