"""What the fake provider servers share: playing a script, recording, failing loudly.

A vendor subclass says which path it serves, how an error body looks and how a
turn renders into its wire format; this class does the rest.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from yoi.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderServerError,
    ScriptError,
)
from yoi.providers.script import Cut, Fail, Stall, Step, Turn, Wait
from yoi.testing._fake_http import FakeHttpServer, HttpRequest, HttpResponse

__all__ = ["FakeProviderServer", "RecordedRequest", "Wire", "split_text", "status_of"]

Wire = Iterator[bytes | Wait | Stall | Cut]
"""A rendered turn: bytes to send, with the pauses and cuts of the script between them."""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request a fake server received; ``body`` is the parsed JSON object ({} if none)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: dict[str, Any]


class FakeProviderServer(ABC):
    """Answers each request with the next scripted turn, in a vendor's wire format.

    It fails loudly: a request after the script is used up gets a 500 and is
    counted as an overrun, a request to an unknown path gets a 404, and
    :meth:`assert_consumed` raises :class:`~yoi.errors.ScriptError` for either
    or for turns never requested.
    """

    endpoint: ClassVar[str]
    """The path suffix this server answers, such as ``/chat/completions``."""

    def __init__(self, turns: Iterable[Turn]) -> None:
        self._turns = [tuple(turn) for turn in turns]
        self._next = 0
        self._overruns = 0
        self._strays: list[str] = []
        self._http = FakeHttpServer(self._handle)
        self.requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def remaining(self) -> int:
        return len(self._turns) - self._next

    async def __aenter__(self) -> Self:
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    def assert_consumed(self) -> None:
        name = type(self).__name__
        if self._strays:
            raise ScriptError(f"{name} got requests it does not serve: {', '.join(self._strays)}")
        if self._overruns:
            raise ScriptError(
                f"{name} had {len(self._turns)} scripted turns but was asked for "
                f"{len(self._turns) + self._overruns}"
            )
        if self.remaining:
            raise ScriptError(f"{name}: {self.remaining} scripted turn(s) were never requested")

    @abstractmethod
    def _error_body(self, status: int, message: str) -> dict[str, object]:
        """The JSON body this vendor sends with an HTTP error status."""

    @abstractmethod
    def _render(self, turn: tuple[Step, ...], request: RecordedRequest) -> Wire:
        """The turn as this vendor's streamed answer."""

    async def _handle(self, http: HttpRequest, response: HttpResponse) -> None:
        request = _record(http)
        self.requests.append(request)
        if http.method != "POST" or not http.path.endswith(self.endpoint):
            self._strays.append(f"{http.method} {http.path}")
            await self._send_error(response, 404, f"{http.method} {http.path} is not served here")
            return
        if self._next >= len(self._turns):
            self._overruns += 1
            message = (
                f"{type(self).__name__} was asked for turn {self._next + self._overruns} "
                f"but its script has {len(self._turns)}"
            )
            await self._send_error(response, 500, message)
            return
        turn = self._turns[self._next]
        self._next += 1
        if turn and isinstance(turn[0], Fail):
            await self._refuse(turn[0].error, response)
        else:
            await _play(self._render(turn, request), response)

    async def _refuse(self, error: ProviderError, response: HttpResponse) -> None:
        status = status_of(error)
        if status is None:
            response.cut()  # no status fits: the connection just drops
            return
        headers = {}
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            headers["Retry-After"] = f"{error.retry_after:g}"
        await self._send_error(response, status, error.message, headers)

    async def _send_error(
        self,
        response: HttpResponse,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        body = json.dumps(self._error_body(status, message)).encode()
        await response.send(status, body, content_type="application/json", headers=headers)


async def _play(wire: Wire, response: HttpResponse) -> None:
    await response.start_stream(content_type="text/event-stream")
    for item in wire:
        match item:
            case bytes():
                await response.write(item)
            case Wait(seconds=seconds):
                await asyncio.sleep(seconds)
            case Stall():
                await asyncio.Event().wait()
            case Cut():
                response.cut()
                return
    await response.end_stream()


def _record(http: HttpRequest) -> RecordedRequest:
    try:
        parsed = json.loads(http.body) if http.body else {}
    except ValueError:
        parsed = {"_unparsed": http.body.decode("utf-8", "replace")}
    body = parsed if isinstance(parsed, dict) else {"_json": parsed}
    return RecordedRequest(http.method, http.path, dict(http.headers), body)


def status_of(error: ProviderError) -> int | None:
    """The HTTP status a fake server answers ``error`` with, or None when none fits."""
    defaults: list[tuple[type[ProviderError], int]] = [
        (ProviderRateLimited, 429),
        (ProviderServerError, 500),
        (ProviderAuthError, 401),
        (ProviderRequestRejected, 400),
    ]
    for kind, status in defaults:
        if isinstance(error, kind):
            return error.status or status
    return None


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` in ``pieces`` consecutive parts of nearly equal length (some may be empty)."""
    size, extra = divmod(len(text), pieces)
    parts, start = [], 0
    for index in range(pieces):
        end = start + size + (1 if index < extra else 0)
        parts.append(text[start:end])
        start = end
    return parts
