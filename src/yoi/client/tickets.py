"""The tickets and board API as typed calls, and the ticket feed (``/api/tickets/events/ws``).

:class:`TicketsApi` is mixed into :class:`~yoi.client.backend.BackendClient`.
The board, read often, comes back as frozen dataclasses (:class:`Board`); a
ticket's detail stays the API's JSON object, which a front end renders as it
is. What a person may do to a ticket is the backend's :class:`Action` list:
:meth:`TicketsApi.perform` sends one as the backend described it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from yoi.client.http import JsonApi, query
from yoi.client.observation import close_stream, open_stream
from yoi.errors import InvalidRequest, RuntimeUnavailable
from yoi.tickets.ids import ticket_id as canonical_id

__all__ = [
    "Action",
    "Asks",
    "Blocker",
    "Board",
    "Card",
    "Column",
    "TicketChange",
    "TicketFeed",
    "TicketsApi",
]

_NORMAL_ENDS = {1000, 1001}


@dataclass(frozen=True, slots=True)
class Blocker:
    ticket_id: str
    state: str
    via: str

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Blocker:
        return cls(str(raw["ticket_id"]), str(raw["state"]), str(raw["via"]))


@dataclass(frozen=True, slots=True)
class Asks:
    """A text the action needs before it is sent, and the body field it goes in."""

    field: str
    label: str
    hint: str


@dataclass(frozen=True, slots=True)
class Action:
    """What a person may do to a ticket now, as the backend describes it."""

    name: str
    label: str
    endpoint: str
    body: Mapping[str, str]
    asks: Asks | None
    emphasis: str | None
    blocked: bool
    reason: str | None
    blockers: tuple[Blocker, ...]

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Action:
        asks = raw.get("asks")
        return cls(
            name=str(raw["name"]),
            label=str(raw["label"]),
            endpoint=str(raw["endpoint"]),
            body={str(key): str(value) for key, value in raw["body"].items()},
            asks=None if asks is None else Asks(asks["field"], asks["label"], asks["hint"]),
            emphasis=raw.get("emphasis"),
            blocked=bool(raw.get("blocked", False)),
            reason=raw.get("reason"),
            blockers=tuple(Blocker.read(item) for item in raw.get("blockers", ())),
        )


@dataclass(frozen=True, slots=True)
class Card:
    """A ticket as the board shows it."""

    id: str
    title: str
    state: str
    priority: str | None
    assignee: str | None
    risk_flags: tuple[str, ...]
    queued_by: str | None
    blockers: tuple[Blocker, ...]
    actions: tuple[Action, ...]

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Card:
        return cls(
            id=str(raw["id"]),
            title=str(raw["title"]),
            state=str(raw["state"]),
            priority=raw.get("priority"),
            assignee=raw.get("assignee"),
            risk_flags=tuple(str(flag) for flag in raw.get("risk_flags", ())),
            queued_by=raw.get("queued_by"),
            blockers=tuple(Blocker.read(item) for item in raw.get("blockers", ())),
            actions=tuple(Action.read(item) for item in raw.get("actions", ())),
        )


@dataclass(frozen=True, slots=True)
class Column:
    state: str
    label: str
    count: int
    """Every ticket in the state, however many cards are shown."""
    cards: tuple[Card, ...]

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Column:
        return cls(
            state=str(raw["state"]),
            label=str(raw["label"]),
            count=int(raw["count"]),
            cards=tuple(Card.read(item) for item in raw["cards"]),
        )


@dataclass(frozen=True, slots=True)
class Board:
    columns: tuple[Column, ...]
    """In lifecycle order, as the backend lists them."""
    invalid_records: tuple[tuple[str, str], ...]
    """``(id, problem)`` of each record the store could not read."""

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Board:
        return cls(
            columns=tuple(Column.read(item) for item in raw["columns"]),
            invalid_records=tuple(
                (str(item["id"]), str(item["problem"])) for item in raw["invalid_records"]
            ),
        )


@dataclass(frozen=True, slots=True)
class TicketChange:
    """The tickets changed: these ids, or any of them (None: load everything again)."""

    revision: int
    ticket_ids: tuple[str, ...] | None


class TicketsApi(JsonApi):
    """The ticket calls of the backend client."""

    async def board(self, limit: int | None = None) -> Board:
        body = await self._call("GET", "/api/board", params=query(limit=limit))
        return self._read(Board.read, body, "board")

    async def tickets(
        self, state: str | None = None, q: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """A listing: ``items``, ``total``, ``returned``, ``invalid_records``."""
        params = query(state=state, q=q, limit=limit)
        body = await self._call("GET", "/api/tickets", params=params)
        return self._read(dict, body, "tickets")

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        """The ticket in full: meta, body, events, relations, blockers, actions, plans..."""
        body = await self._call("GET", _path(ticket_id))
        return self._read(dict, body, "ticket")

    async def create_ticket(self, title: str, body: str = "") -> dict[str, Any]:
        """A new ticket, in planning; its summary."""
        answer = await self._call("POST", "/api/tickets", json={"title": title, "body": body})
        return self._read(dict, answer, "ticket")

    async def mark_ready(
        self, ticket_id: str, summary: str | None = None, expected: str | None = None
    ) -> dict[str, Any]:
        payload = _given(summary=summary, **{"from": expected})
        return await self._summary(f"{_path(ticket_id)}/ready", payload)

    async def queue_ticket(self, ticket_id: str, expected: str | None = None) -> dict[str, Any]:
        return await self._summary(f"{_path(ticket_id)}/queue", _given(**{"from": expected}))

    async def move_ticket(
        self, ticket_id: str, to: str, reason: str | None = None, expected: str | None = None
    ) -> dict[str, Any]:
        """Any move but closing (``to="planning"`` returns it to planning)."""
        payload = {"to": to, **_given(reason=reason, **{"from": expected})}
        return await self._summary(f"{_path(ticket_id)}/transitions", payload)

    async def close_ticket(
        self, ticket_id: str, resolution: str, expected: str | None = None
    ) -> dict[str, Any]:
        payload = {"resolution": resolution, **_given(**{"from": expected})}
        return await self._summary(f"{_path(ticket_id)}/close", payload)

    async def comment(self, ticket_id: str, body: str, role: str = "comment") -> dict[str, Any]:
        answer = await self._call(
            "POST", f"{_path(ticket_id)}/comments", json={"body": body, "role": role}
        )
        return self._read(dict, answer, "event")

    async def review(self, ticket_id: str, status: str, body: str) -> dict[str, Any]:
        payload = {"status": status, "body": body}
        answer = await self._call("POST", f"{_path(ticket_id)}/review", json=payload)
        return self._read(dict, answer, "event")

    async def relate(
        self, ticket_id: str, kind: str, target: str, note: str | None = None
    ) -> dict[str, Any]:
        payload = {"kind": kind, "target": target, **_given(note=note)}
        answer = await self._call("POST", f"{_path(ticket_id)}/relations", json=payload)
        return self._read(dict, answer, "relation")

    async def perform(self, action: Action, text: str | None = None) -> dict[str, Any]:
        """Send ``action`` as the backend described it; ``text`` goes in the field it asks."""
        if not action.endpoint.startswith("/api/"):
            raise InvalidRequest("an action's endpoint must be the backend's API")
        payload: dict[str, object] = dict(action.body)
        if action.asks is not None:
            if not text:
                raise InvalidRequest(f"{action.asks.label} is required")
            payload[action.asks.field] = text
        return await self._call("POST", action.endpoint, json=payload)

    async def ticket_feed(self, open_timeout: float = 10.0) -> TicketFeed:
        """Open the ticket feed: a change at once (load everything), then one per change."""
        url = self._stream_url("/api/tickets/events/ws")
        connection = await open_stream(url, self._token, peer="backend", open_timeout=open_timeout)
        return TicketFeed(connection)

    async def _summary(self, path: str, payload: dict[str, object]) -> dict[str, Any]:
        answer = await self._call("POST", path, json=payload)
        return self._read(dict, answer, "ticket")


class TicketFeed:
    """The changes of the ticket feed; the backend shutting down ends the iteration, a cut
    connection raises ``runtime_unavailable`` (open a new feed and load everything)."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    def __aiter__(self) -> TicketFeed:
        return self

    async def __anext__(self) -> TicketChange:
        try:
            text = await self._connection.recv(decode=True)
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code in _NORMAL_ENDS:
                raise StopAsyncIteration from None
            raise RuntimeUnavailable("the ticket feed was cut") from None
        try:
            frame = json.loads(text)
            ids = frame["ticket_ids"]
            return TicketChange(
                int(frame["revision"]), None if ids is None else tuple(str(i) for i in ids)
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RuntimeUnavailable(
                "the backend sent a feed frame this client cannot read"
            ) from error

    async def aclose(self) -> None:
        await close_stream(self._connection)


def _path(ticket_id: str) -> str:
    return f"/api/tickets/{canonical_id(ticket_id)}"


def _given(**values: str | None) -> dict[str, object]:
    return {name: value for name, value in values.items() if value is not None}
