"""The last guard on what leaves the backend: known secrets never reach a browser.

The backend knows the strings a browser must never see (runtime URLs and
their host:port, tokens, provider keys, the workspace's folder and the home
folder); every error message, diagnostic and detail that leaves the registry
passes through :class:`Scrubber`, which replaces them with ``[redacted]``.
Views are built from named fields, so this is a second line, not the first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from yoi.errors import YoiError

__all__ = ["REDACTED", "Scrubber"]

REDACTED = "[redacted]"
_SHORTEST = 6
"""Shorter strings are not scrubbed: they would cut into ordinary words."""


class Scrubber:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= _SHORTEST and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)  # a longer secret first: it may hold a shorter

    def add_url(self, url: str) -> None:
        """The URL, and the host:port it names (messages of networking libraries use both)."""
        parts = urlsplit(url)
        self.add(url, url.rstrip("/"), parts.netloc)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def value(self, value: object) -> object:
        """``value`` with every string inside scrubbed (JSON-like structures)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def error(self, error: YoiError) -> YoiError:
        """The same error (class and code) with its message and details scrubbed."""
        message = self.text(error.message)
        details = self.value(error.details)
        if message == error.message and details == error.details:
            return error
        clean = copy.copy(error)  # keeps what a subclass sets (a retry_after, a status)
        clean.message = message
        clean.details = details if isinstance(details, dict) else {}
        clean.args = (message,)
        return clean
