"""Who may reach the backend: its own pages, and clients that hold its token when it has one.

- A request or upgrade whose ``Origin`` is not the backend's own is refused
  (``forbidden_origin``): another site in the same browser cannot drive it.
- Without a token the backend listens on loopback only, and answers only
  requests addressed to a loopback name or its bind address (``Host``,
  ``forbidden_host``), so a hostile page cannot reach it by pointing its own
  domain at 127.0.0.1.
- A mutating request must declare ``Content-Type: application/json``, which a
  plain HTML form cannot send (``unsupported_media_type``).
- With a token, every ``/api`` route but ``/api/health`` and ``/api/login``
  needs it: as ``Authorization: Bearer`` (the CLI) or as the cookie
  ``/api/login`` sets (the web console).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from yoi.errors import ForbiddenOrigin, Unauthorized, UnsupportedMediaType, YoiError
from yoi.server.guard import Headers, HostCheck, Scope, bearer_token

__all__ = ["COOKIE", "OPEN_PATHS", "BackendAdmission"]

COOKIE = "yoi_backend_token"
OPEN_PATHS = frozenset({"/api/health", "/api/login"})
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BackendAdmission:
    def __init__(self, token: str | None, *, hosts: HostCheck | None = None) -> None:
        self._token = None if token is None else token.encode()
        self._hosts = hosts or HostCheck()

    def __call__(self, scope: Scope, headers: Headers) -> YoiError | None:
        if self._token is None and (refusal := self._hosts(headers)) is not None:
            return refusal
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin")
        if origin is not None and not _same_origin(origin.decode("latin-1"), host):
            return ForbiddenOrigin("requests from another origin are refused")
        if scope["type"] == "http" and scope["method"] in _MUTATING:
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if kind != b"application/json":
                return UnsupportedMediaType("send the request body as application/json")
        path = scope["path"]
        if self._token is None or not path.startswith("/api") or path in OPEN_PATHS:
            return None
        given = bearer_token(headers) or _cookie(headers, COOKIE)
        if given is None or not hmac.compare_digest(given, self._token):
            return Unauthorized("a bearer token or the login cookie is required")
        return None

    def accepts(self, token: str) -> bool:
        return self._token is None or hmac.compare_digest(token.encode(), self._token)


def _same_origin(origin: str, host: str) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() != ""


def _cookie(headers: Headers, name: str) -> bytes | None:
    for pair in headers.get(b"cookie", b"").split(b";"):
        key, _, value = pair.strip().partition(b"=")
        if key == name.encode():
            return value
    return None
