"""Identifiers: validation of caller-chosen ids and generation of new ones.

An id is ``[a-z0-9][a-z0-9._-]{0,63}`` (ARCHITECTURE §3). Generated ids are a
prefix letter, ten Crockford base-32 digits of the creation time in
milliseconds and four of a per-generator sequence, so they are short, unique
within a process and sort in creation order.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from yoi.errors import InvalidRequest

__all__ = ["ID_PATTERN", "IdGenerator", "validate_id"]

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_DIGITS = 10
_SEQ_DIGITS = 4
_SEQ_LIMIT = 32**_SEQ_DIGITS


def validate_id(value: object, *, field: str = "id") -> str:
    """Return ``value`` if it is a well-formed id, else raise ``invalid_request``."""
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        raise InvalidRequest(
            f"{field} must match [a-z0-9][a-z0-9._-]{{0,63}}",
            details={"field": field},
        )
    return value


def _base32(number: int, digits: int) -> str:
    chars = []
    for _ in range(digits):
        number, rest = divmod(number, 32)
        chars.append(_CROCKFORD[rest])
    return "".join(reversed(chars))


class IdGenerator:
    """Makes ids that sort in the order they were made, even within one millisecond."""

    def __init__(self, prefix: str, *, clock: Callable[[], float] = time.time) -> None:
        validate_id(prefix, field="prefix")
        self._prefix = prefix
        self._clock = clock
        self._last_ms = -1
        self._seq = 0

    def new(self) -> str:
        now_ms = int(self._clock() * 1000)
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            self._seq = secrets.randbelow(_SEQ_LIMIT // 2)
        else:
            self._seq += 1
            if self._seq >= _SEQ_LIMIT:
                self._last_ms += 1
                self._seq = 0
        return (
            f"{self._prefix}{_base32(self._last_ms, _TIME_DIGITS)}{_base32(self._seq, _SEQ_DIGITS)}"
        )
