"""``/api/tickets/events/ws``: a browser hears that the tickets changed.

The backend app on a loopback socket (as the worker streams are tested) with
a real ticket store; changes go through its HTTP API in-process, or straight
through the store as another writer would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.backend.rig import DEADLINE, Frame, Watch, plain_backend, refusal
from tests.server.asgi import error_of
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from yoi.backend import Backend, create_backend_app
from yoi.runtime.frames import CLOSE_CODES, GOING_AWAY
from yoi.server.listen import listening
from yoi.tickets import TicketStore

PATH = "/api/tickets/events/ws"
FRAME_KEYS = {"kind", "revision", "ticket_ids"}
DIAGNOSTIC_KEYS = {"kind", "code", "message", "details"}


@dataclass
class Served:
    backend: Backend
    http: httpx.AsyncClient
    url: str
    """The stream's ``ws://`` address."""
    store: TicketStore | None

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[Watch]:
        async with connect(self.url, open_timeout=DEADLINE, compression=None) as connection:
            yield Watch(connection)

    async def create(self, title: str) -> str:
        response = await self.http.post("/api/tickets", json={"title": title})
        assert response.status_code == 201, response.text
        ticket_id: str = response.json()["ticket"]["id"]
        return ticket_id


@asynccontextmanager
async def serve(root: Path, *, with_tickets: bool = True) -> AsyncIterator[Served]:
    store = None
    if with_tickets:
        store = TicketStore.for_workspace(root / "workspace")
        store.init()
    backend = plain_backend(store)
    async with AsyncExitStack() as exits:
        await exits.enter_async_context(backend)
        app = create_backend_app(backend)
        listener = await exits.enter_async_context(listening(app, "127.0.0.1", 0))
        transport = httpx.ASGITransport(app=app)
        http = await exits.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        )
        yield Served(backend, http, f"ws://127.0.0.1:{listener.port}{PATH}", store)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path) as opened:
        yield opened


async def tickets_frame(watch: Watch) -> Frame:
    frame = await watch.frame()
    assert set(frame) == FRAME_KEYS, frame
    assert frame["kind"] == "tickets"
    assert isinstance(frame["revision"], int)
    return frame


async def until_named(watch: Watch, after: int, ticket_id: str) -> Frame:
    """Frames past revision ``after`` until one names ``ticket_id``; none names another."""
    while True:
        frame = await tickets_frame(watch)
        assert frame["revision"] > after, frame
        assert frame["ticket_ids"] is not None, frame
        assert set(frame["ticket_ids"]) <= {ticket_id}, frame
        if ticket_id in frame["ticket_ids"]:
            return frame
        after = frame["revision"]


async def test_the_first_frame_says_load_everything(served: Served) -> None:
    async with served.watch() as watch:
        first = await tickets_frame(watch)
    feed = served.backend.ticket_feed
    assert feed is not None
    assert first == {"kind": "tickets", "revision": feed.revision, "ticket_ids": None}


async def test_a_ticket_created_through_the_api_is_named(served: Served) -> None:
    async with served.watch() as watch, served.watch() as other:
        first = await tickets_frame(watch)
        await tickets_frame(other)
        ticket_id = await served.create("Heard of")
        named = await until_named(watch, first["revision"], ticket_id)
        assert (await until_named(other, first["revision"], ticket_id))["revision"] >= first[
            "revision"
        ]
        response = await served.http.post(
            f"/api/tickets/{ticket_id}/comments", json={"body": "and commented"}
        )
        assert response.status_code == 201, response.text
        await until_named(watch, named["revision"], ticket_id)


async def test_a_change_by_another_writer_is_named(served: Served) -> None:
    assert served.store is not None
    other_writer = TicketStore.for_workspace(served.store.root.parent.parent)
    async with served.watch() as watch:
        first = await tickets_frame(watch)
        created = await asyncio.to_thread(other_writer.create, "By hand", "", author="cli")
        await until_named(watch, first["revision"], created.id)


async def test_a_ping_is_allowed(served: Served) -> None:
    async with served.watch() as watch:
        first = await tickets_frame(watch)
        await watch.send({"kind": "ping"})
        ticket_id = await served.create("After the ping")
        await until_named(watch, first["revision"], ticket_id)


@pytest.mark.parametrize(
    "sent",
    [
        json.dumps({"kind": "subscribe"}),
        json.dumps({"kind": "ping", "extra": 1}),
        "ping",
        "not json {",
        b'{"kind": "ping"}',
    ],
    ids=["other-kind", "ping-with-more", "bare-word", "not-json", "binary"],
)
async def test_any_client_frame_but_a_ping_ends_the_stream(
    served: Served, sent: str | bytes
) -> None:
    async with served.watch() as watch:
        await tickets_frame(watch)
        await watch.connection.send(sent)
        diagnostic = await watch.frame()
        code = await watch.closed()
    assert set(diagnostic) == DIAGNOSTIC_KEYS, diagnostic
    assert (diagnostic["kind"], diagnostic["code"]) == ("diagnostic", "observation_only")
    assert "ping" in diagnostic["message"]
    assert code == CLOSE_CODES["observation_only"] == 4405


async def test_the_stream_ends_with_going_away_when_the_backend_closes(
    served: Served,
) -> None:
    async with served.watch() as watch, served.watch() as other:
        await tickets_frame(watch)
        await tickets_frame(other)
        await served.backend.close()
        assert await watch.closed() == GOING_AWAY == 1001
        assert await other.closed() == GOING_AWAY


async def test_without_a_ticket_store_the_upgrade_is_refused(tmp_path: Path) -> None:
    async with serve(tmp_path, with_tickets=False) as served:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(served.url, open_timeout=DEADLINE):
                pass
    error = error_of(refusal(refused.value), 501)
    assert error["code"] == "unsupported_operation"
