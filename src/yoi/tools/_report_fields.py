"""Reading the arguments of a report tool strictly, and writing a report's canonical JSON.

Shared by :mod:`yoi.tools.reports` and :mod:`yoi.tools.intent`, so that every report
tool refuses the same way: unknown and missing fields, wrong types and oversized values
each raise :class:`~yoi.errors.InvalidRequest` naming where the value sits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from yoi.errors import InvalidRequest

__all__ = [
    "MAX_EXIT_CODE",
    "MAX_ITEMS",
    "MAX_REPORT_CHARS",
    "array",
    "boolean",
    "canonical_json",
    "choice",
    "fields",
    "integer",
    "string",
    "within_bound",
]

MAX_ITEMS = 200
MAX_EXIT_CODE = 2**31 - 1
# Above this the answer would be cut by the tool runner's output bound and no longer parse.
MAX_REPORT_CHARS = 24_000


def canonical_json(plain: Mapping[str, object]) -> str:
    """Sorted keys, no spaces, text as it is: one value, one spelling."""
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def within_bound(text: str) -> str:
    """``text`` (a report's canonical JSON) when it fits the tool runner's output bound."""
    if len(text) > MAX_REPORT_CHARS:
        raise InvalidRequest(
            f"the report is {len(text)} characters of JSON; at most {MAX_REPORT_CHARS} fit: "
            "shorten it"
        )
    return text


def fields(
    value: object, *, required: set[str], optional: set[str], where: str = "arguments"
) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{where} must be an object")
    unknown = sorted(str(key) for key in value if key not in required | optional)
    if unknown:
        raise InvalidRequest(f"{where} has unknown fields: {', '.join(map(repr, unknown))}")
    missing = sorted(required - set(value))
    if missing:
        raise InvalidRequest(f"{where} lacks required fields: {', '.join(missing)}")
    return value


def string(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string")
    if not value.strip():
        raise InvalidRequest(f"{where} must not be empty")
    if len(value) > limit:
        raise InvalidRequest(f"{where} is {len(value)} characters; at most {limit}")
    if "\x00" in value:
        raise InvalidRequest(f"{where} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{where} holds a lone surrogate, which is not text") from None
    return value


def integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{where} must be an integer")
    if abs(value) > MAX_EXIT_CODE:
        raise InvalidRequest(f"{where} is out of range")
    return value


def boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{where} must be true or false")
    return value


_E = TypeVar("_E", bound=StrEnum)


def choice(value: object, where: str, kind: type[_E]) -> _E:
    allowed = [member.value for member in kind]
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRequest(f"{where} must be one of {', '.join(allowed)}")
    return kind(value)


def array(value: object, where: str, most: int = MAX_ITEMS) -> list[object]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where} must be an array")
    if len(value) > most:
        raise InvalidRequest(f"{where} has {len(value)} items; at most {most}")
    return value
