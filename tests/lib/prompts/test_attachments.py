"""Attachments: safe decoding, size cap, binary refusal, token counts, fenced context."""

from __future__ import annotations

import codecs

import pytest

from lib.errors import ValidationError
from lib.prompts import attachments, tokens


def test_utf8_code_file_gets_language_and_tokens():
    src = "def f(x):\n    return x * 2  # é\n"
    a = attachments.read_attachment("src/util.py", src.encode())
    assert a.name == "util.py" and a.language == "python" and a.encoding == "utf-8"
    assert a.text == src and a.tokens == tokens.count_text(src) and a.tokens > 5
    ctx = a.as_context()
    assert ctx.startswith("File: util.py\n```python\n") and ctx.endswith("\n```")


def test_bom_utf16_and_crlf_are_normalised():
    a = attachments.read_attachment("notes.txt", codecs.BOM_UTF16_LE + "a\r\nb\r\n".encode("utf-16-le"))
    assert a.text == "a\nb\n" and a.encoding == "utf-16"
    b = attachments.read_attachment("x.md", codecs.BOM_UTF8 + b"hi")
    assert b.text == "hi" and b.encoding == "utf-8-sig"


def test_cp1252_fallback_warns():
    a = attachments.read_attachment("legacy.txt", "caf\xe9".encode("cp1252"))
    assert a.text == "café" and a.encoding == "cp1252"
    assert any("cp1252" in w for w in a.warnings)


def test_binary_and_oversize_are_refused_with_the_file_name():
    with pytest.raises(ValidationError, match="image.png: looks like a binary"):
        attachments.read_attachment("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ValidationError, match="big.txt: 2,001 bytes is over"):
        attachments.read_attachment("big.txt", b"x" * 2001, max_bytes=2000)


def test_path_and_control_characters_are_stripped_from_names_and_text():
    a = attachments.read_attachment("..\\..\\evil\x07.txt", b"ok\x1bnow")
    assert a.name == "evil.txt"
    assert a.text == "oknow" and any("control" in w for w in a.warnings)


def test_fence_grows_when_the_file_contains_fences_and_combine_counts():
    a = attachments.read_attachment("README.md", b"```py\nx\n```\n")
    assert "````markdown\n" in a.as_context() and a.as_context().endswith("\n````")
    b = attachments.read_attachment("b.txt", b"second")
    text = attachments.combine([a, b])
    assert text.index("File: README.md") < text.index("File: b.txt")
    assert attachments.total_tokens([a, b]) == tokens.count_text(text)
    assert attachments.total_tokens([]) == 0
    with pytest.raises(ValidationError, match="at most"):
        attachments.combine([b] * (attachments.MAX_FILES + 1))
