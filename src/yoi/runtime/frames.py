"""The frames of an observation stream (ARCHITECTURE §4.4), for servers and clients alike.

Every frame is a JSON text: an event (the first is always a ``snapshot``) or a
diagnostic, after which the server closes the socket with the diagnostic's
close code. Close codes in the 4000 range echo the HTTP status of the same
error, so ``4410`` (gone) is an expired cursor and ``4429`` a slow consumer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from yoi.errors import YoiError
from yoi.runtime.events import Event

__all__ = [
    "CLOSE_CODES",
    "GOING_AWAY",
    "diagnostic_frame",
    "event_frame",
    "is_client_ping",
]

CLOSE_CODES: Mapping[str, int] = {
    "invalid_request": 4400,
    "invalid_cursor": 4400,
    "unauthorized": 4401,
    "forbidden_origin": 4403,
    "forbidden_host": 4403,
    "worker_not_found": 4404,
    "runtime_not_found": 4404,
    "observation_only": 4405,
    "cursor_expired": 4410,
    "slow_consumer": 4429,
    "internal": 4500,
    "runtime_auth_failed": 4502,
    "runtime_unavailable": 4503,
    "runtime_timeout": 4504,
    "worker_unavailable": 4503,
}
"""The close code that follows a diagnostic, by its code; anything else closes with 4500."""

GOING_AWAY = 1001
"""The close code when the runtime shuts down: resume by cursor once it is back."""


def event_frame(event: Event) -> str:
    body = event.to_dict()
    frame = {"kind": "event", "cursor": event.cursor, **body}
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def diagnostic_frame(error: YoiError) -> tuple[str, int]:
    """The frame for ``error`` and the close code that must follow it."""
    frame = {
        "kind": "diagnostic",
        "code": error.code,
        "message": error.message,
        "details": error.details,
    }
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)
    return text, CLOSE_CODES.get(error.code, CLOSE_CODES["internal"])


def is_client_ping(text: str) -> bool:
    """Whether a client's text frame is an application-level ping, the one frame it may send."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, Mapping) and value.get("kind") == "ping" and len(value) == 1
