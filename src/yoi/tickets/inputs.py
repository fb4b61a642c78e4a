"""What people and programs hand the store, checked before anything is written.

Titles, authors and reasons are single lines: no control character and no
character any reader takes for a line break (``\\x85``, ``\\u2028``,
``\\u2029`` included). Bodies are bounded so a huge paste costs a clear
``payload_too_large``, never a torn or giant file.
"""

from __future__ import annotations

from yoi.errors import InvalidRequest, PayloadTooLarge

__all__ = ["MAX_TEXT_BYTES", "line", "text"]

MAX_TEXT_BYTES = 256 * 1024
_LINE_LIMITS = {"title": 300, "author": 100, "reason": 200, "note": 2000}


def line(value: object, field: str, *, limit: int | None = None) -> str:
    """A non-empty single line of printable text, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field} must be a non-empty string", details={"field": field})
    value = _unicode(value.strip(), field)
    if any(_control(char) for char in value):
        raise InvalidRequest(f"{field} must be one line of text", details={"field": field})
    most = limit or _LINE_LIMITS.get(field, 300)
    if len(value) > most:
        raise InvalidRequest(
            f"{field} is {len(value)} characters; at most {most}", details={"field": field}
        )
    return value


def text(value: object, field: str, *, required: bool = True) -> str:
    """Markdown text of at most :data:`MAX_TEXT_BYTES` once encoded."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string", details={"field": field})
    if required and not value.strip():
        raise InvalidRequest(f"{field} must not be empty", details={"field": field})
    _unicode(value, field)
    if "\x00" in value:
        raise InvalidRequest(f"{field} must not contain NUL characters", details={"field": field})
    size = len(value.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise PayloadTooLarge(
            f"{field} is {size:,} bytes; a ticket text holds at most {MAX_TEXT_BYTES:,}",
            details={"field": field, "limit": MAX_TEXT_BYTES},
        )
    return value.replace("\r\n", "\n")


def _control(char: str) -> bool:
    """A control character (C0, DEL, C1) or a Unicode line or paragraph separator."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in "\u2028\u2029"


def _unicode(value: str, field: str) -> str:
    """Refuse lone surrogates: JSON escapes and undecodable argv bytes can carry them."""
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise InvalidRequest(f"{field} must be valid Unicode text", details={"field": field})
    return value
