"""Which declared charsets are text charsets: one answer for the API's ``charset`` parameter and the scan's
declared charsets (an HTML meta tag, an HTTP header in a WARC record)."""

from __future__ import annotations

import codecs

__all__ = ["text_codec"]

# Python codecs that no client or page can mean as a charset (RFC 2978): escape sequences, domain-name
# encodings, a codec that refuses everything. Byte-to-byte codecs (hex, base64, zlib, rot13) are not text
# encodings at all: codecs.CodecInfo says so.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "charmap"})


def text_codec(label: str) -> str | None:
    """The Python codec name of a declared charset label, or None when it names none or no text charset."""
    try:
        info = codecs.lookup(label.strip().lower())
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("_", "-") in _NOT_CHARSETS:
        return None
    return info.name
