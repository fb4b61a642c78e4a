"""How HTTP failures of model endpoints read as provider errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yoi.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderServerError,
)
from yoi.providers._http_status import error_for_status, redact, retry_after_seconds

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 01 Jan 2025 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 01 Jan 2025 11:59:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ProviderRateLimited),
        (500, ProviderServerError),
        (503, ProviderServerError),
        (529, ProviderServerError),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (400, ProviderRequestRejected),
        (404, ProviderRequestRejected),
        (422, ProviderRequestRejected),
    ],
)
def test_error_for_status(status: int, kind: type[ProviderError]) -> None:
    error = error_for_status(status, "said", details={})
    assert type(error) is kind
    assert error.status == status
    assert error.details["status"] == status


def test_rate_limited_keeps_retry_after() -> None:
    error = error_for_status(429, "slow down", retry_after=2.5, details={})
    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after == 2.5


def test_redact_removes_secrets_tokens_and_url_credentials() -> None:
    text = "key sk-abc at https://user:pw@host/v1 with Authorization: Bearer tok123"
    cleaned = redact(text, ["sk-abc", None])
    assert "sk-abc" not in cleaned
    assert "user:pw" not in cleaned
    assert "tok123" not in cleaned
    assert "https://[redacted]@host/v1" in cleaned


def test_redact_keeps_messages_short() -> None:
    assert len(redact("x" * 5000, [])) <= 500
