"""Differences between two prompt versions: messages, template format, model and parameters."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .content import message_text
from .textdiff import word_diff


@dataclass
class MessageDiff:
    index: int  # 1-based position
    status: str  # same | changed | added | removed
    role_a: str | None
    role_b: str | None
    unified: str  # unified diff of the content ('' when same)


@dataclass
class VersionDiff:
    a: int
    b: int
    messages: list[MessageDiff] = field(default_factory=list)
    template_format: tuple[str, str] | None = None
    model: tuple[Any, Any] | None = None
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key -> (a, b); missing = None
    text: str = ""  # unified diff of the whole version as text
    words: str = ""  # word diff of the whole version as text: [-removed-] and {+added+} markers

    @property
    def identical(self) -> bool:
        return (not self.template_format and not self.model and not self.params
                and all(m.status == "same" for m in self.messages))

    def summary(self) -> str:
        """One line: what changed."""
        if self.identical:
            return f"v{self.a} and v{self.b} are identical"
        parts = []
        counts: dict[str, int] = {}
        for m in self.messages:
            if m.status != "same":
                counts[m.status] = counts.get(m.status, 0) + 1
        parts += [f"{n} message{'s' if n > 1 else ''} {s}" for s, n in counts.items()]
        if self.template_format:
            parts.append(f"format {self.template_format[0]} -> {self.template_format[1]}")
        if self.model:
            parts.append(f"model {self.model[0] or '-'} -> {self.model[1] or '-'}")
        if self.params:
            parts.append("params " + ", ".join(sorted(self.params)))
        return f"v{self.a} -> v{self.b}: " + "; ".join(parts)


def as_text(version: Any) -> str:
    """A version as readable text (what the whole-version diff compares)."""
    lines = [f"# format: {version.template_format}", f"# model: {version.model or '-'}"]
    for k in sorted(version.params or {}):
        lines.append(f"# {k}: {version.params[k]!r}")
    for m in version.messages:
        lines.append(f"--- {m['role']} ---")
        lines.extend(message_text(m).splitlines() or [""])
    return "\n".join(lines) + "\n"


def _unified(a: str, b: str, la: str, lb: str) -> str:
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), la, lb, n=2))


def diff_versions(a: Any, b: Any) -> VersionDiff:
    """Compare two versions (anything with number, messages, template_format, model, params)."""
    d = VersionDiff(a=a.number, b=b.number)
    ma, mb = list(a.messages), list(b.messages)
    for i in range(max(len(ma), len(mb))):
        x = ma[i] if i < len(ma) else None
        y = mb[i] if i < len(mb) else None
        if x is None:
            d.messages.append(MessageDiff(i + 1, "added", None, y["role"],
                                          _unified("", message_text(y), "", f"v{b.number}")))
        elif y is None:
            d.messages.append(MessageDiff(i + 1, "removed", x["role"], None,
                                          _unified(message_text(x), "", f"v{a.number}", "")))
        elif x == y:
            d.messages.append(MessageDiff(i + 1, "same", x["role"], y["role"], ""))
        else:
            d.messages.append(MessageDiff(i + 1, "changed", x["role"], y["role"],
                                          _unified(message_text(x), message_text(y), f"v{a.number}", f"v{b.number}")))
    if a.template_format != b.template_format:
        d.template_format = (a.template_format, b.template_format)
    if (a.model or None) != (b.model or None):
        d.model = (a.model, b.model)
    pa, pb = a.params or {}, b.params or {}
    for k in sorted(set(pa) | set(pb)):
        if pa.get(k) != pb.get(k):
            d.params[k] = (pa.get(k), pb.get(k))
    d.text = _unified(as_text(a), as_text(b), f"v{a.number}", f"v{b.number}")
    d.words = word_diff(as_text(a), as_text(b))[0]
    return d
