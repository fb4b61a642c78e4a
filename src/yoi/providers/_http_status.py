"""From an HTTP failure of a model endpoint to a :class:`~yoi.errors.ProviderError`.

Pure functions shared by the vendor modules: which error an HTTP status means,
how long ``Retry-After`` asks us to wait, and how to keep secrets out of the
messages we build from what a server said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from yoi.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderServerError,
)

__all__ = ["error_for_status", "redact", "retry_after_seconds"]

_MAX_MESSAGE = 500
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer)\s+\S+")


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """The wait asked for by ``retry-after-ms``, else ``Retry-After`` (seconds or a date)."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    return _seconds_until(raw, now or datetime.now(UTC))


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None, details: Mapping[str, object]
) -> ProviderError:
    """The provider error an HTTP status stands for (429, 5xx, 401/403, other 4xx)."""
    if status == 429:
        return ProviderRateLimited(message, retry_after=retry_after, details=details)
    if status >= 500:
        return ProviderServerError(message, status=status, details=details)
    if status in (401, 403):
        return ProviderAuthError(message, status=status, details=details)
    return ProviderRequestRejected(message, status=status, details=details)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` without the given secrets, bearer tokens or credentials inside URLs, kept short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _URL_CREDENTIALS.sub(r"\1[redacted]@", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text
