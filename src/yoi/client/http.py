"""The HTTP side both clients share: one httpx client, a bearer token, JSON bodies, typed errors.

A subclass names its ``peer`` ("runtime", "backend") for messages, which
never carry the URL or the token: an error envelope is raised as the
library's error class (by its code), a peer that cannot be reached is
``runtime_unavailable``, one too slow ``runtime_timeout``, and an answer
that is not the API's is ``runtime_unavailable`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import httpx

from yoi.client.errors import envelope_error
from yoi.errors import RuntimeTimeout, RuntimeUnavailable

__all__ = ["JsonApi", "query"]

T = TypeVar("T")


_KEEPALIVE_SECONDS = 2.0
"""How long an idle connection is kept for the next call: well under uvicorn's 5 s, so the
client never sends on a connection the server is closing at that moment (a ReadError)."""


class JsonApi:
    peer: ClassVar[str]
    """What is at the other end, for messages."""
    unreachable_hint: ClassVar[str] = ""
    """Added to "cannot reach the ..." (what to check)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(keepalive_expiry=_KEEPALIVE_SECONDS),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _stream_url(self, path: str) -> str:
        return self._base_url.replace("http", "ws", 1) + path

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        """The JSON object the peer answers ``method path`` with; anything else raises."""
        if self._http.is_closed:
            raise RuntimeUnavailable("this client is closed")
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as error:
            raise RuntimeTimeout(f"the {self.peer} did not answer in time") from error
        except httpx.HTTPError as error:
            raise RuntimeUnavailable(
                f"cannot reach the {self.peer} ({type(error).__name__}){self.unreachable_hint}"
            ) from error
        if not response.is_success:
            raise envelope_error(response.status_code, response.content)
        try:
            body = response.json()
        except ValueError as error:
            raise self._unreadable() from error
        if not isinstance(body, dict):
            raise self._unreadable()
        return body

    def _read(self, reader: Callable[[Any], T], raw: Any, key: str | None = None) -> T:
        """``reader`` applied to ``raw`` (or its ``key``); an unreadable body: unavailable."""
        try:
            return reader(raw if key is None else raw[key])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise self._unreadable() from error

    def _unreadable(self) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"the {self.peer} answered with a body this client cannot read")


def query(**values: str | int | None) -> dict[str, str | int]:
    """Query parameters, those given as None left out."""
    return {name: value for name, value in values.items() if value is not None}
