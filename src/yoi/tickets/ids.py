"""Ticket ids: 13 Crockford base-32 characters of the creation time in milliseconds.

``0-9A-Z`` without I, L, O and U, zero-padded, so lexicographic order is
creation order. Ids are written in upper case, and only a name that is
exactly such an id is a ticket folder. An id a person or a program hands
in is read the Crockford way: in either case, with I and L read as 1 and O
as 0, then turned into the one canonical id (``00001kvzkste2`` and
``OOOO1KVZKSTE2`` are ``00001KVZKSTE2``). U, hyphens and anything else are
refused, so nothing but a canonical id ever becomes a path under
``.yoi/tickets/``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from yoi.errors import InvalidTicketId

__all__ = ["TICKET_ID", "decode_id", "encode_id", "is_ticket_id", "ticket_id", "timestamp"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = 13
TICKET_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{13}")
_READ_AS = str.maketrans("ILO", "110")


def is_ticket_id(value: object) -> bool:
    """Whether ``value`` is a canonical ticket id, as folder names and files hold them."""
    return isinstance(value, str) and TICKET_ID.fullmatch(value) is not None


def ticket_id(value: object, *, field: str = "ticket id") -> str:
    """The canonical id ``value`` names (see the module), else raise ``invalid_ticket_id``."""
    if isinstance(value, str) and len(value) == _DIGITS and value.isascii():
        canonical = value.upper().translate(_READ_AS)
        if TICKET_ID.fullmatch(canonical):
            return canonical
    raise InvalidTicketId(
        f"{field} must be 13 characters of Crockford base 32 "
        "(0-9 and A-Z but U, in either case; I and L read as 1, O as 0)",
        details={"field": field},
    )


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
