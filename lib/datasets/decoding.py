"""Bytes of an uploaded file to text: BOM, UTF-8, BOM-less UTF-16, then cp1252 with a warning.

Binary files (NUL bytes, control bytes, known magic numbers such as .xlsx/.pdf) are
rejected with a DatasetError that says what the file looks like.
"""

from __future__ import annotations

import codecs

from lib.errors import DatasetError

_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MAGIC = ((b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?); save it as CSV UTF-8 first"),
          (b"\xd0\xcf\x11\xe0", "an old Excel/Office file (.xls); save it as CSV UTF-8 first"),
          (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"\x1f\x8b", "a gzip archive"), (b"SQLite format 3", "an SQLite database"),
          (b"PAR1", "a Parquet file"))

def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    # the five bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) map to their latin-1 code points
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("wb_latin1", _latin1_fallback)


def _looks_utf16(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _binary_reason(data: bytes) -> str | None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    sample = data[:8192]
    if b"\x00" in sample:
        return "binary data (NUL bytes)"
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if sample and controls > 0.05 * len(sample):
        return "binary data (control bytes)"
    return None


def decode(data: bytes, filename: str = "") -> tuple[str, str, list[str]]:
    """Bytes to text: (text, encoding, warnings); raises DatasetError on binary input."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                raise DatasetError(f"starts with a {enc} byte-order mark but is not valid {enc} "
                                   f"(byte {exc.start})", file=filename) from None
            return text, enc, []
    try:
        text = data.decode("utf-8")
        if "\x00" not in text:
            return text, "utf-8", []
    except UnicodeDecodeError:
        pass
    enc16 = _looks_utf16(data)
    if enc16:
        try:
            return data.decode(enc16), enc16, []
        except UnicodeDecodeError:
            pass
    why = _binary_reason(data)
    if why:
        raise DatasetError(f"this is not a text file: {why}", file=filename)
    text = data.decode("cp1252", errors="wb_latin1")
    return text, "cp1252", ["file is not UTF-8: decoded as Windows-1252 (cp1252); check accented characters"]
