"""Images and PDFs attached to a message: the type is read from the bytes (never the file name),
the size is capped, and the result is an OpenAI content part holding a data URL."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from lib.errors import ValidationError
from lib.settings import get_settings

MEDIA_MAX_BYTES = 5 * 1024 * 1024  # Anthropic's per-image limit; OpenAI allows more
# magic bytes -> media type
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
               (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"))
# Images are sent as tiles the text estimate cannot see; this is OpenAI's 'low detail' base cost.
IMAGE_TOKEN_ESTIMATE = 85


@dataclass(frozen=True)
class Media:
    """An attached image or PDF: its name, detected type, size and the content part to send."""

    name: str
    media_type: str
    size_bytes: int
    part: dict

    @property
    def is_image(self) -> bool:
        """Whether this is an image (else a PDF)."""
        return self.media_type.startswith("image/")


def sniff(data: bytes) -> str | None:
    """The media type the bytes say they are (PNG, JPEG, GIF, WEBP, PDF), or None."""
    for magic, media_type in _SIGNATURES:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_media(name: str, data: bytes, max_bytes: int = MEDIA_MAX_BYTES) -> Media:
    """An uploaded file as a content part; ValidationError naming the file if too large or not an image/PDF."""
    if len(data) > max_bytes:
        raise ValidationError(f"{name}: {len(data):,} bytes is over the {max_bytes // (1024 * 1024)} MB limit "
                              "for an attachment")
    media_type = sniff(data)
    if media_type is None:
        raise ValidationError(f"{name}: not a PNG, JPEG, GIF, WEBP image or a PDF (judged by its content, "
                              "not its name)")
    url = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    if media_type == "application/pdf":
        part = {"type": "file", "file": {"filename": name[:200], "file_data": url}}
    else:
        part = {"type": "image_url", "image_url": {"url": url}}
    return Media(name=name, media_type=media_type, size_bytes=len(data), part=part)


def with_media(message: dict, media: list[Media]) -> dict:
    """A user message with attachments appended as parts (its text becomes the first part)."""
    if not media:
        return message
    content = message.get("content")
    parts = list(content) if isinstance(content, list) else ([{"type": "text", "text": str(content)}]
                                                             if content else [])
    return {**message, "content": parts + [m.part for m in media]}


def image_url_for(value: object, name: str) -> str:
    """A variable's value as an image URL: an https or data:image URL as is, else a file under the
    media folder (WORKBENCH_MEDIA_DIR) read and typed by content; ValidationError naming the variable."""
    text = str(value or "").strip()
    if text.startswith("https://"):
        return text
    if text.startswith("data:"):
        if not text.startswith("data:image/") or ";base64," not in text:
            raise ValidationError(f"variable {name!r}: a data URL for an image must be data:image/...;base64,...")
        return text
    folder = get_settings().media_dir
    if not text:
        raise ValidationError(f"variable {name!r}: no image (give an https URL, a data URL or a file name)")
    if not folder:
        raise ValidationError(f"variable {name!r}: {text[:80]!r} is not an https or data URL, and no media folder "
                              "is configured (WORKBENCH_MEDIA_DIR) to read files from")
    base = Path(folder).resolve()
    path = (base / text).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise ValidationError(f"variable {name!r}: {text[:80]!r} is not a file under the media folder")
    size = path.stat().st_size
    if size > MEDIA_MAX_BYTES:  # before reading: a batch column must not load a huge file into memory
        raise ValidationError(f"variable {name!r}: {path.name} is {size:,} bytes, over the "
                              f"{MEDIA_MAX_BYTES // 2**20} MB limit for an image")
    media = read_media(path.name, path.read_bytes())
    if not media.is_image:
        raise ValidationError(f"variable {name!r}: {path.name} is a PDF, not an image")
    return media.part["image_url"]["url"]
