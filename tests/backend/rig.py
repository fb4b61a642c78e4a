"""A backend over one runtime under test, embedded or remote, and a client of its WebSocket.

A :class:`Stack` is what a contract test drives: the backend app through
``httpx.ASGITransport`` and, for the observation stream, the same app on a
real socket. ``runtime`` is the :class:`~yoi.runtime.Runtime` that actually
hosts the workers under test (the embedded one, or the one behind the remote
runtime's server), and ``model`` is the scripted model it plays.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import pytest
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from yoi.backend import (
    Backend,
    ModelLabel,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.backend.profiles import workspace_bundle
from yoi.client import RuntimeClient
from yoi.engine import Tool
from yoi.providers.script import Turn
from yoi.runtime import BUILTIN_PROFILES, ConfigBundle, Runtime, Store
from yoi.server import create_app
from yoi.server.listen import Listener, listening
from yoi.testing import ScriptedModel
from yoi.tickets import TicketStore
from yoi.workspace import Workspace

__all__ = [
    "DEADLINE",
    "EMBEDDED",
    "EVENT_KEYS",
    "FAR",
    "MODEL",
    "Frame",
    "Stack",
    "Upstream",
    "Watch",
    "open_stack",
    "refusal",
    "script",
]

DEADLINE = 10.0
EMBEDDED = "backend-internal"
FAR = "far"
RUNTIME_TOKEN = "far-runtime-token"
MODEL = "scripted:test"
EVENT_KEYS = {"kind", "cursor", "seq", "at", "worker_id", "event"}
STRICT_PROFILE = """+++
description = "Reviews strictly"
tools = []
+++
You review changes strictly.
"""

Frame = dict[str, Any]
Kind = Literal["embedded", "remote", "both"]


BUILTIN_BUNDLE = ConfigBundle.from_mapping(
    {
        "revision": "tests",
        "profiles": {p.name: {"prompt": f"You are {p.name}."} for p in BUILTIN_PROFILES},
    }
)
"""The builtin profiles with short prompts."""
OFFLINE = ModelLabel("scripted:offline", offline=True)


def plain_backend(tickets: TicketStore | None = None, **options: Any) -> Backend:
    """A backend of one in-memory runtime and the builtin profiles, over ``tickets``."""
    return Backend(
        runtime=Runtime(), bundle=BUILTIN_BUNDLE, model=OFFLINE, tickets=tickets, **options
    )


def script(*turns: Turn) -> pytest.MarkDecorator:
    """The turns the scripted model of the runtime under test plays, in order."""
    return pytest.mark.script(*turns)


class Upstream:
    """The remote runtime's server: a test may take it down and bring it back on the same port."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.port = 0
        self._served: AsyncExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        served = AsyncExitStack()
        app = create_app(self.runtime, token=RUNTIME_TOKEN)
        listener = await served.enter_async_context(listening(app, "127.0.0.1", self.port))
        self.port = listener.port
        self._served = served

    async def stop(self) -> None:
        served, self._served = self._served, None
        if served is not None:
            await served.aclose()


class Watch:
    """A client of the backend's observation stream, reading frames with a deadline."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def frame(self) -> Frame:
        async with asyncio.timeout(DEADLINE):
            text = await self.connection.recv(decode=True)
        value = json.loads(text)
        assert isinstance(value, dict), text
        return value

    async def until(self, event_type: str, *, count: int = 1) -> list[Frame]:
        """Frames up to and including the ``count``-th event of ``event_type``."""
        seen: list[Frame] = []
        while True:
            frame = await self.frame()
            seen.append(frame)
            assert frame["kind"] == "event", frame
            if frame["event"]["type"] == event_type and (count := count - 1) == 0:
                return seen

    async def closed(self, *, deadline: float = DEADLINE) -> int | None:
        """Wait for the backend to close the stream; the code it closed with."""
        try:
            async with asyncio.timeout(deadline):
                while True:
                    await self.connection.recv()
        except ConnectionClosed as closed:
            return None if closed.rcvd is None else closed.rcvd.code
        raise AssertionError("unreachable")

    async def send(self, value: object) -> None:
        await self.connection.send(json.dumps(value))


@dataclass
class Stack:
    kind: Literal["embedded", "remote"]
    http: httpx.AsyncClient
    runtime_id: str
    """The runtime under test, as the backend names it."""
    runtime: Runtime
    """The runtime that hosts the workers under test."""
    model: ScriptedModel
    backend: Backend
    upstream: Upstream | None
    """The remote runtime's server (None when the runtime under test is embedded)."""
    app: ASGIApp
    served: AsyncExitStack
    """The backend app on a socket, once a test observes."""
    listener: Listener | None = field(default=None)

    def path(self, worker_id: str, *rest: str, runtime_id: str | None = None) -> str:
        runtime = quote(runtime_id or self.runtime_id, safe="")
        tail = "".join(f"/{part}" for part in rest)
        return f"/api/runtimes/{runtime}/workers/{quote(worker_id, safe='')}{tail}"

    async def create(self, runtime_id: str | None = None, **body: object) -> Frame:
        response = await self.http.post(
            f"/api/runtimes/{runtime_id or self.runtime_id}/workers", json=body
        )
        assert response.status_code == 201, response.text
        worker: Frame = response.json()["worker"]
        return worker

    async def send(self, worker_id: str, content: str, **body: object) -> httpx.Response:
        return await self.http.post(
            self.path(worker_id, "input"), json={"content": content, **body}
        )

    async def ws_url(self, worker_id: str, cursor: str | None, runtime_id: str | None) -> str:
        if self.listener is None:
            served = listening(self.app, "127.0.0.1", 0)
            self.listener = await self.served.enter_async_context(served)
        path = self.path(worker_id, "events", "ws", runtime_id=runtime_id)
        url = f"ws://127.0.0.1:{self.listener.port}{path}"
        return url if cursor is None else f"{url}?cursor={quote(cursor, safe='')}"

    @asynccontextmanager
    async def observe(
        self, worker_id: str, *, cursor: str | None = None, runtime_id: str | None = None
    ) -> AsyncIterator[Watch]:
        url = await self.ws_url(worker_id, cursor, runtime_id)
        async with connect(url, open_timeout=DEADLINE, compression=None) as connection:
            yield Watch(connection)

    async def refused(
        self, worker_id: str, *, cursor: str | None = None, runtime_id: str | None = None
    ) -> httpx.Response:
        """The HTTP answer to an upgrade the backend refuses."""
        url = await self.ws_url(worker_id, cursor, runtime_id)
        try:
            connection = await connect(url, open_timeout=DEADLINE)
        except InvalidStatus as error:
            return refusal(error)
        await connection.close()
        raise AssertionError("the upgrade was accepted")


def refusal(error: InvalidStatus) -> httpx.Response:
    """A refused upgrade as an httpx response, to read its envelope strictly."""
    answer = error.response
    return httpx.Response(
        answer.status_code,
        headers=list(answer.headers.raw_items()),
        content=bytes(answer.body or b""),
    )


def _workspace(root: Path, profiles: Mapping[str, str]) -> Workspace:
    workspace = Workspace(root)
    workspace.profiles.mkdir(parents=True)
    (workspace.profiles / "strict.md").write_text(STRICT_PROFILE, encoding="utf-8")
    for name, text in profiles.items():
        (workspace.profiles / f"{name}.md").write_text(text, encoding="utf-8")
    return workspace


@asynccontextmanager
async def open_stack(
    kind: Kind,
    turns: Sequence[Turn],
    root: Path,
    *,
    store: Store | None = None,
    tools: Sequence[Tool] = (),
    profiles: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """A backend whose runtime under test plays ``turns`` (its workers kept in ``store``),
    offers ``tools``, and has the workspace's ``profiles`` (name → file text) besides ``strict``.

    ``both`` puts the scripted runtime behind a remote source and keeps the
    embedded runtime too (it is always there): a backend of two runtimes.
    """
    model = ScriptedModel(turns, name=MODEL)
    bundle = workspace_bundle(_workspace(root / "workspace", profiles or {}))
    label = ModelLabel(MODEL, False)
    async with AsyncExitStack() as exits:
        upstream: Upstream | None = None
        remotes: list[RemoteSource] = []
        if kind == "embedded":
            runtime = Runtime(runtime_id=EMBEDDED, model=model, store=store, tools=tools)
            embedded = runtime
        else:
            runtime = Runtime(runtime_id=FAR, model=model, store=store, tools=tools)
            exits.push_async_callback(runtime.close)
            await runtime.open()
            upstream = Upstream(runtime)
            await upstream.start()
            exits.push_async_callback(upstream.stop)
            settings = RemoteRuntimeSettings(FAR, upstream.url, timeout=5.0)
            client = RuntimeClient(upstream.url, token=RUNTIME_TOKEN, timeout=5.0)
            probing = Probing(interval=5.0, first_backoff=0.02, max_backoff=0.2)
            remotes.append(RemoteSource(settings, client, probing=probing))
            embedded = Runtime(runtime_id=EMBEDDED, model=ScriptedModel([], name=MODEL))
        backend = Backend(
            runtime=embedded,
            bundle=bundle,
            model=label,
            remotes=remotes,
        )
        await exits.enter_async_context(backend)
        for remote in remotes:
            async with asyncio.timeout(DEADLINE):
                await remote.until("available")
        app = create_backend_app(backend)
        transport = httpx.ASGITransport(app=app)
        http = await exits.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        )
        stack = Stack(
            kind="embedded" if kind == "embedded" else "remote",
            http=http,
            runtime_id=EMBEDDED if kind == "embedded" else FAR,
            runtime=runtime,
            model=model,
            backend=backend,
            upstream=upstream,
            app=app,
            served=AsyncExitStack(),
        )
        try:
            yield stack
        finally:
            # Each server takes a fixed ~0.2 s to shut down: stop both at once.
            stopping = [stack.served.aclose()] + ([] if upstream is None else [upstream.stop()])
            await asyncio.gather(*stopping)
