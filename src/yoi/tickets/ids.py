"""Ticket ids: 13 Crockford base-32 characters of the creation time in milliseconds.

``0-9A-Z`` without I, L, O and U, zero-padded, so lexicographic order is
creation order. Only a string that matches exactly is an id; nothing else
ever becomes a path under ``.yoi/tickets/``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from yoi.errors import InvalidTicketId

__all__ = ["TICKET_ID", "decode_id", "encode_id", "is_ticket_id", "ticket_id", "timestamp"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = 13
TICKET_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{13}")


def is_ticket_id(value: object) -> bool:
    return isinstance(value, str) and TICKET_ID.fullmatch(value) is not None


def ticket_id(value: object, *, field: str = "ticket id") -> str:
    """Return ``value`` if it is a ticket id, else raise ``invalid_ticket_id``."""
    if not is_ticket_id(value):
        raise InvalidTicketId(
            f"{field} must be 13 characters of Crockford base 32 (0-9, A-Z without I, L, O, U)",
            details={"field": field},
        )
    assert isinstance(value, str)
    return value


def encode_id(milliseconds: int) -> str:
    if not 0 <= milliseconds < 32**_DIGITS:
        raise ValueError(f"{milliseconds} ms does not fit a ticket id")
    chars = []
    for _ in range(_DIGITS):
        milliseconds, digit = divmod(milliseconds, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def decode_id(value: str) -> int:
    number = 0
    for char in ticket_id(value):
        number = number * 32 + _ALPHABET.index(char)
    return number


def timestamp(milliseconds: int) -> str:
    """The UTC ``YYYY-MM-DDTHH:MM:SSZ`` of a millisecond time, as ticket files write it."""
    moment = datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
