"""Text or code files attached as context: safe decoding, a size cap and a token count.

An attachment is untrusted: it is decoded to text (never executed, never rendered as HTML),
refused if it looks binary or is too large, and formatted as a fenced block that lands
in a prompt variable.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import PurePath

from lib.errors import ValidationError

from . import tokens

MAX_BYTES = 512 * 1024
MAX_FILES = 10
CONTEXT_NAMES = ("code", "context", "text", "document", "file", "files", "source", "input")
_LANGS = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "tsx", ".jsx": "jsx", ".java": "java",
    ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".sh": "bash", ".sql": "sql", ".json": "json", ".yaml": "yaml",
    ".yml": "yaml", ".toml": "toml", ".md": "markdown", ".html": "html", ".css": "css", ".xml": "xml",
    ".kt": "kotlin", ".swift": "swift", ".scala": "scala", ".r": "r", ".csv": "csv", ".txt": "",
}


@dataclass
class Attachment:
    """A decoded file: its name, text, encoding, size in bytes, estimated tokens and warnings."""

    name: str
    text: str
    encoding: str
    size_bytes: int
    tokens: int
    language: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_context(self) -> str:
        """The file as a fenced block headed by its name (what lands in the variable)."""
        fence = "```"
        while fence in self.text:  # a file that itself contains ``` gets a longer fence
            fence += "`"
        return f"File: {self.name}\n{fence}{self.language}\n{self.text.rstrip(chr(10))}\n{fence}"


def safe_name(name: str) -> str:
    """The base name of an uploaded file, without directories or control characters."""
    base = PurePath(str(name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())[:200]
    return base or "file"


def language_of(name: str) -> str:
    """A code-fence language guessed from the file extension ('' when unknown)."""
    return _LANGS.get(PurePath(name).suffix.lower(), "")


def _decode(data: bytes) -> tuple[str, str, list[str]]:
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc, []
            except UnicodeDecodeError:
                raise ValidationError(f"not valid {enc} text despite its byte-order mark") from None
    if b"\x00" in data[:8192]:
        raise ValidationError("looks like a binary file (it contains NUL bytes); attach text or code files only")
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        return text, "cp1252", ["not valid UTF-8: decoded as Windows-1252 (cp1252); check special characters"]


def read_attachment(name: str, data: bytes, *, max_bytes: int = MAX_BYTES) -> Attachment:
    """Decode an uploaded file into an Attachment; ValidationError names the file when it is refused."""
    fname = safe_name(name)
    if len(data) > max_bytes:
        raise ValidationError(f"{fname}: {len(data):,} bytes is over the {max_bytes:,}-byte attachment cap")
    try:
        text, enc, warnings = _decode(data)
    except ValidationError as exc:
        raise ValidationError(f"{fname}: {exc}") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Control characters other than tab/newline would garble the prompt; drop them, say so.
    cleaned = "".join(ch for ch in text if ch in "\t\n" or ch.isprintable() or ord(ch) > 0x9f)
    if len(cleaned) != len(text):
        warnings.append(f"removed {len(text) - len(cleaned)} control characters")
    return Attachment(name=fname, text=cleaned, encoding=enc, size_bytes=len(data),
                      tokens=tokens.count_text(cleaned), language=language_of(fname), warnings=warnings)


def combine(attachments: list[Attachment]) -> str:
    """Several attachments as one context text (blank line between files)."""
    if len(attachments) > MAX_FILES:
        raise ValidationError(f"{len(attachments)} files attached; at most {MAX_FILES} at once")
    return "\n\n".join(a.as_context() for a in attachments)


def total_tokens(attachments: list[Attachment]) -> int:
    """Estimated tokens of the combined context text."""
    return tokens.count_text(combine(attachments)) if attachments else 0
