"""Turning a runtime's error envelope back into the library's own error."""

from __future__ import annotations

import json

from yoi.errors import RuntimeUnavailable, YoiError, error_class

__all__ = ["envelope_error", "frame_error", "unreadable"]


def envelope_error(status: int, content: bytes) -> YoiError:
    """The error an ``{"error": {...}}`` body names; without one, ``runtime_unavailable``."""
    try:
        body = json.loads(content)
    except ValueError:
        return unreadable(status)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return unreadable(status)
    return frame_error(error)


def frame_error(fields: dict[str, object]) -> YoiError:
    """The error of an envelope's ``error`` object or of a stream's diagnostic frame."""
    code, message, details = fields.get("code"), fields.get("message"), fields.get("details")
    if not isinstance(code, str) or not isinstance(message, str):
        return RuntimeUnavailable("the runtime sent an error this client cannot read")
    return error_class(code)(message, details=details if isinstance(details, dict) else None)


def unreadable(status: int) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"the runtime answered HTTP {status} without a readable body", details={"status": status}
    )
