"""Differences between two answers (model outputs): line diff and word diff.

`lib.diffing` compares prompt versions; this compares free text.  Output is plain text
with markers, meant for `st.code` (never HTML: answers are untrusted).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
MAX_CHARS = 200_000  # beyond this a diff is slow and unreadable; compare the heads


@dataclass
class TextDiff:
    """A diff of two texts: unified line diff, word diff with [-removed-]{+added+} markers, similarity."""

    unified: str
    words: str
    similarity: float  # 0..1, difflib ratio over words
    identical: bool
    added_words: int
    removed_words: int


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text[:MAX_CHARS])


def line_diff(a: str, b: str, label_a: str = "a", label_b: str = "b") -> str:
    """Unified diff of the lines of two texts ('' when equal)."""
    return "".join(difflib.unified_diff(a[:MAX_CHARS].splitlines(keepends=True),
                                        b[:MAX_CHARS].splitlines(keepends=True), label_a, label_b, n=2))


def word_diff(a: str, b: str) -> tuple[str, int, int, float]:
    """Word diff text with [-removed-] and {+added+} markers, counts of removed/added words and similarity."""
    ta, tb = _tokens(a), _tokens(b)
    sm = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    out: list[str] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append("".join(ta[i1:i2]))
            continue
        if op in ("delete", "replace"):
            out.append("[-" + "".join(ta[i1:i2]) + "-]")
            removed += sum(1 for t in ta[i1:i2] if not t.isspace())
        if op in ("insert", "replace"):
            out.append("{+" + "".join(tb[j1:j2]) + "+}")
            added += sum(1 for t in tb[j1:j2] if not t.isspace())
    return "".join(out), removed, added, sm.ratio() if (ta or tb) else 1.0


def diff_texts(a: str, b: str, label_a: str = "a", label_b: str = "b") -> TextDiff:
    """Both diffs of two answers at once."""
    a, b = a or "", b or ""
    words, removed, added, ratio = word_diff(a, b)
    return TextDiff(unified=line_diff(a, b, label_a, label_b), words=words, similarity=round(ratio, 4),
                    identical=a == b, added_words=added, removed_words=removed)
