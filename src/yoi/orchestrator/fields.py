"""Checks on the values the orchestrator state stores.

Each check returns the value as it will read back from SQLite, or refuses it with
``invalid_request`` naming its field, so that whatever is saved reads back equal: no NaN
(SQLite stores it as NULL), no integer past 64 bits, no text UTF-8 cannot encode.
"""

from __future__ import annotations

import math
import re

from yoi.errors import InvalidRequest
from yoi.ids import validate_id
from yoi.tickets.ids import ticket_id

__all__ = [
    "MAX_COUNT",
    "MAX_TEXT",
    "checked_commit",
    "checked_count",
    "checked_id",
    "checked_moment",
    "checked_text",
    "checked_ticket",
]

MAX_COUNT = 2**31 - 1
MAX_TEXT = 4096
_COMMIT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_ticket(value: object) -> str:
    """The canonical ticket id (``ticket_id`` reads ids the Crockford way)."""
    return ticket_id(value, field="ticket_id")


def checked_count(value: object, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refused(field, "must be an integer")
    if not minimum <= value <= MAX_COUNT:
        raise _refused(field, f"must be between {minimum} and {MAX_COUNT}")
    return value


def checked_moment(value: object, field: str) -> float:
    """Seconds since the epoch: a finite, non-negative number, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refused(field, "must be a number of seconds")
    moment = float(value)
    if not math.isfinite(moment) or moment < 0:
        raise _refused(field, "must be a finite, non-negative number of seconds")
    return moment + 0.0  # -0.0 reads back from SQLite as 0.0


def checked_id(value: object, field: str) -> str | None:
    """A worker or workdir id (``[a-z0-9][a-z0-9._-]{0,63}``), or None."""
    return None if value is None else validate_id(value, field=field)


def checked_commit(value: object, field: str) -> str | None:
    """A full commit id, 40 (SHA-1) or 64 (SHA-256) lower-case hex digits, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or _COMMIT.fullmatch(value) is None:
        raise _refused(field, "must be a full commit id in lower-case hex")
    return value


def checked_text(value: object, field: str, *, limit: int = MAX_TEXT, line: bool = False) -> str:
    """Text UTF-8 can encode, of at most ``limit`` characters; ``line``: one line, no controls."""
    if not isinstance(value, str):
        raise _refused(field, "must be text")
    if len(value) > limit:
        raise _refused(field, f"must be at most {limit} characters")
    if "\x00" in value or (line and _CONTROL.search(value)):
        raise _refused(field, "must not hold control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _refused(field, "must be valid Unicode (no lone surrogates)") from None
    return value


def _refused(field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{field} {reason}", details={"field": field})
