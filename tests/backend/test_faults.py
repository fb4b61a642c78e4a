"""The backend when its runtimes fail: down at start, wrong token, too slow, killed, forgetful.

Each fault is real: a port nothing listens on, a runtime app that wants
another token, a TCP server that never answers, a ``yoi runtime serve``
process killed with SIGKILL, a runtime whose event log no longer reaches
back to the client's cursor. The backend is in-process (its app through
``httpx.ASGITransport``, its observation stream on a real socket).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from tests.server.test_process import Launcher, model_env
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from yoi.backend import (
    EMBEDDED_RUNTIME_ID,
    Backend,
    ModelLabel,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.backend.profiles import workspace_bundle
from yoi.client import RuntimeClient
from yoi.errors import RuntimeTimeout
from yoi.runtime import MemoryStore, Runtime
from yoi.runtime.cursor import encode_cursor
from yoi.server import create_app
from yoi.server.listen import listening
from yoi.testing import FakeOpenAIServer, Stall, Text, until
from yoi.workspace import Workspace

DEADLINE = 10.0
FAR = "far"
TOKEN = "far-token-right-7c1e"
WRONG = "far-token-wrong-2b9a"
PROBING = Probing(interval=5.0, first_backoff=0.02, max_backoff=0.2)

Frame = dict[str, Any]


# -- helpers -------------------------------------------------------------------


def remote(url: str, *, token: str | None = None, timeout: float = 5.0) -> RemoteSource:
    settings = RemoteRuntimeSettings(FAR, url, timeout=timeout)
    return RemoteSource(settings, RuntimeClient(url, token=token, timeout=timeout), probing=PROBING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Watch:
    """A client of the backend's observation stream."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def frame(self) -> Frame:
        async with asyncio.timeout(DEADLINE):
            text = await self.connection.recv(decode=True)
        frame: Frame = json.loads(text)
        return frame

    async def until(self, done: Callable[[Frame], bool]) -> list[Frame]:
        """Frames up to and including the first that is ``done``."""
        seen = [await self.frame()]
        while not done(seen[-1]):
            seen.append(await self.frame())
        return seen

    async def close_code(self) -> int | None:
        async with asyncio.timeout(DEADLINE):
            await self.connection.wait_closed()
        return self.connection.close_code


def event_is(event_type: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["kind"] == "event" and frame["event"]["type"] == event_type


def finished(run_id: str) -> Callable[[Frame], bool]:
    return lambda frame: (
        frame["kind"] == "event"
        and frame["event"]
        == {
            **frame["event"],
            "type": "run_finished",
            "run_id": run_id,
        }
    )


def text_of(frames: Sequence[Frame]) -> str:
    return "".join(f["event"]["text"] for f in frames if event_is("text_delta")(f))


@dataclass
class Rig:
    backend: Backend
    http: httpx.AsyncClient
    port: int

    def url(self, worker_id: str, cursor: str | None = None) -> str:
        url = f"ws://127.0.0.1:{self.port}/api/runtimes/{FAR}/workers/{worker_id}/events/ws"
        return url if cursor is None else f"{url}?cursor={quote(cursor, safe='')}"

    @asynccontextmanager
    async def watch(self, worker_id: str, cursor: str | None = None) -> AsyncIterator[Watch]:
        async with connect(self.url(worker_id, cursor), open_timeout=DEADLINE) as connection:
            yield Watch(connection)

    async def refused(self, worker_id: str) -> tuple[int, Frame]:
        """The status and error of an upgrade the backend refuses."""
        with pytest.raises(InvalidStatus) as caught:
            async with asyncio.timeout(DEADLINE):
                await connect(self.url(worker_id), open_timeout=DEADLINE)
        answer = caught.value.response
        error: Frame = json.loads(bytes(answer.body or b""))["error"]
        return answer.status_code, error

    async def create(self, worker_id: str) -> None:
        response = await self.http.post(
            f"/api/runtimes/{FAR}/workers", json={"worker_id": worker_id}
        )
        assert response.status_code == 201, response.text

    async def send(self, worker_id: str, content: str) -> str:
        path = f"/api/runtimes/{FAR}/workers/{worker_id}/input"
        response = await self.http.post(path, json={"content": content})
        assert response.status_code == 202, response.text
        run_id: str = response.json()["ack"]["run_id"]
        return run_id

    async def runtime_view(self) -> Frame:
        response = await self.http.get(f"/api/runtimes/{FAR}")
        assert response.status_code == 200, response.text
        view: Frame = response.json()["runtime"]
        return view


@asynccontextmanager
async def backend_over(
    root: Path, source: RemoteSource, *, resume_window: float = 10.0
) -> AsyncIterator[Rig]:
    """An in-process backend over the embedded runtime and ``source``."""
    backend = Backend(
        runtime=Runtime(runtime_id=EMBEDDED_RUNTIME_ID),
        bundle=workspace_bundle(Workspace(root / "workspace")),
        model=ModelLabel("scripted:offline", True),
        remotes=[source],
        resume_window=resume_window,
    )
    async with backend:
        app = create_backend_app(backend)
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
            listening(app, "127.0.0.1", 0) as server,
        ):
            yield Rig(backend, http, server.port)


def error_of(response: httpx.Response, status: int) -> Frame:
    assert response.status_code == status, response.text
    error: Frame = response.json()["error"]
    return error


# -- down at start-up ----------------------------------------------------------


async def test_a_runtime_down_at_start_up_is_diagnosed_then_used_once_it_comes_up(
    tmp_path: Path,
) -> None:
    port = free_port()
    source = remote(f"http://127.0.0.1:{port}")
    async with backend_over(tmp_path, source) as rig:
        view = await rig.runtime_view()
        assert (view["kind"], view["status"], view["worker_count"]) == (
            "remote",
            "unavailable",
            None,
        )
        assert [d["code"] for d in view["diagnostics"]] == ["runtime_unavailable"]
        listing = (await rig.http.get("/api/workers")).json()
        assert [(w["runtime_id"], w["worker_id"]) for w in listing["workers"]] == [
            (EMBEDDED_RUNTIME_ID, "companion")
        ]
        assert [(d["runtime_id"], d["code"]) for d in listing["diagnostics"]] == [
            (FAR, "runtime_unavailable")
        ]
        missing = await rig.http.get(f"/api/runtimes/{FAR}/workers/w-any")
        assert error_of(missing, 503)["code"] == "runtime_unavailable"

        async with Runtime(runtime_id=FAR) as far, listening(create_app(far), "127.0.0.1", port):
            async with asyncio.timeout(DEADLINE):
                await source.until("available")
            view = await rig.runtime_view()
            assert (view["status"], view["model"]) == ("available", "scripted:offline")
            assert [d["code"] for d in view["diagnostics"]] == ["offline_model"]  # its own
            await rig.create("w-late")
            listing = (await rig.http.get("/api/workers")).json()
            assert listing["diagnostics"] == []
            assert (FAR, "w-late") in [
                (w["runtime_id"], w["worker_id"]) for w in listing["workers"]
            ]
            async with rig.watch("w-late") as watch:
                assert event_is("snapshot")(await watch.frame())
                run_id = await rig.send("w-late", "are you there")
                frames = await watch.until(finished(run_id))
            assert frames[-1]["event"]["result"] == "completed"
            assert text_of(frames).endswith("You said: are you there")


# -- a wrong token -------------------------------------------------------------


async def test_a_wrong_token_is_runtime_auth_failed_on_routes_streams_and_the_view(
    tmp_path: Path,
) -> None:
    async with Runtime(runtime_id=FAR) as far:
        await far.create_worker()
        async with listening(create_app(far, token=TOKEN), "127.0.0.1", 0) as served:
            source = remote(served.url, token=WRONG)
            async with backend_over(tmp_path, source) as rig:
                view = await rig.runtime_view()
                assert view["status"] == "unavailable"
                assert [d["code"] for d in view["diagnostics"]] == ["runtime_auth_failed"]
                worker = await rig.http.get(f"/api/runtimes/{FAR}/workers/w-any")
                status, streamed = await rig.refused("w-any")
        for error in (error_of(worker, 502), streamed):
            assert error["code"] == "runtime_auth_failed"
            assert error["details"] == {"runtime_id": FAR}
            assert TOKEN not in error["message"]
            assert WRONG not in error["message"]
            assert served.url not in error["message"]
        assert status == 502


async def test_creating_a_worker_on_a_runtime_that_is_down_is_runtime_unavailable(
    tmp_path: Path,
) -> None:
    source = remote(f"http://127.0.0.1:{free_port()}")
    async with backend_over(tmp_path, source) as rig:
        created = await rig.http.post(f"/api/runtimes/{FAR}/workers", json={})
    assert error_of(created, 503)["code"] == "runtime_unavailable"


async def test_creating_a_worker_on_a_runtime_that_refuses_the_token_is_runtime_auth_failed(
    tmp_path: Path,
) -> None:
    async with (
        Runtime(runtime_id=FAR) as far,
        listening(create_app(far, token=TOKEN), "127.0.0.1", 0) as served,
        backend_over(tmp_path, remote(served.url, token=WRONG)) as rig,
    ):
        created = await rig.http.post(f"/api/runtimes/{FAR}/workers", json={})
    assert error_of(created, 502)["code"] == "runtime_auth_failed"


# -- too slow ------------------------------------------------------------------


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A TCP server on loopback that accepts connections and never answers; its URL."""
    peers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for peer in peers:
            peer.close()
        await server.wait_closed()


async def test_a_runtime_slower_than_its_timeout_is_runtime_timeout(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    async with silent_server() as url:
        source = remote(url, timeout=0.3)
        started = loop.time()
        async with backend_over(tmp_path, source) as rig:
            assert loop.time() - started < 3.0, "a silent runtime held up the backend's start"
            began = loop.time()
            slow = await rig.http.get(f"/api/runtimes/{FAR}/workers/w-any")
            took = loop.time() - began
            view = await rig.runtime_view()
            listing = (await rig.http.get("/api/workers")).json()
    error = error_of(slow, 504)
    assert (error["code"], error["details"]) == ("runtime_timeout", {"runtime_id": FAR})
    assert url not in error["message"]
    assert 0.25 <= took < 3.0
    assert view["status"] == "unavailable"
    assert [d["code"] for d in view["diagnostics"]] == ["runtime_timeout"]
    assert [w["worker_id"] for w in listing["workers"]] == ["companion"]
    assert [d["runtime_id"] for d in listing["diagnostics"]] == [FAR]


async def test_opening_a_stream_on_a_silent_runtime_is_bounded_by_its_timeout() -> None:
    async with silent_server() as url:
        source = remote(url, timeout=0.3)
        with pytest.raises(RuntimeTimeout):
            async with asyncio.timeout(2.0):
                await source.subscribe("w-any", None)
        await source.aclose()


# -- killed in mid-stream --------------------------------------------------------


async def test_a_runtime_killed_mid_stream_and_restarted_on_its_store_resumes_without_repeats(
    tmp_path: Path,
) -> None:
    launcher = Launcher(tmp_path)
    store = ("--store", "fs", "--store-root", "far-state", "--runtime-id", FAR)
    try:
        async with FakeOpenAIServer([[Text("partial ", "answer"), Stall()]]) as fake:
            model = ("--model", "openai:gpt-4o-mini")
            first = await launcher.serve(*store, *model, env=model_env(fake))
            source = remote(first.url)
            async with backend_over(tmp_path, source, resume_window=20.0) as rig:
                await rig.create("w-long")
                async with rig.watch("w-long") as watch:
                    seen = [await watch.frame()]
                    killed_run = await rig.send("w-long", "a long job")
                    seen += await watch.until(event_is("text_delta"))
                    first.process.send_signal(signal.SIGKILL)
                    await first.process.wait()
                    bind = ("--bind", f"127.0.0.1:{urlsplit(first.url).port}")
                    second = await launcher.serve(*store, *bind)
                    after = await watch.until(
                        lambda f: f["kind"] == "diagnostic" or event_is("run_finished")(f)
                    )
                    if after[-1]["kind"] == "event":
                        await same_as_logged(second.url, seen[-1]["seq"], after)
                        assert after[-1]["event"]["run_id"] == killed_run
                        assert after[-1]["event"]["result"] == "failed"
                        assert after[-1]["event"]["error"]["code"] == "interrupted"
                        seen += after
                        run_id = await rig.send("w-long", "after the restart")
                        seen += await watch.until(finished(run_id))
                if after[-1]["kind"] == "diagnostic":
                    seen += await resynced(rig, seen, after)
        fake.assert_consumed()
    finally:
        await launcher.aclose()
    seqs = [frame["seq"] for frame in seen]
    assert seqs == sorted(set(seqs)), f"a repeated or reordered seq: {seqs}"
    assert seen[-1]["event"]["result"] == "completed"
    assert text_of(seen).count("You said: after the restart") == 1
    assert text_of(seen).count("partial ") == 1


async def same_as_logged(url: str, seen_seq: int, after: list[Frame]) -> None:
    """From the first event the restarted runtime still holds, the client got exactly its log.

    Events published but not yet durable when the runtime died may have reached
    the client before it; the restarted runtime numbers its events past them.
    """
    async with RuntimeClient(url) as direct:
        page = await direct.events("w-long", after=encode_cursor("w-long", seen_seq))
    logged = [event.seq for event in page.events if event.seq <= after[-1]["seq"]]
    assert logged, "the restarted runtime logged nothing after the kill"
    assert [f["seq"] for f in after if f["seq"] >= logged[0]] == logged


async def resynced(rig: Rig, seen: list[Frame], after: list[Frame]) -> list[Frame]:
    """The diagnostic path: reconnect (by cursor, or from a snapshot), then run one more input."""
    ending = after[-1]
    assert ending["code"] in {"runtime_unavailable", "cursor_expired"}, ending
    relayed = seen + after[:-1]
    cursor = None if ending["code"] == "cursor_expired" else relayed[-1]["cursor"]
    async with rig.watch("w-long", cursor) as watch:
        resumed = [await watch.frame()]
        assert event_is("snapshot")(resumed[0])
        run_id = await rig.send("w-long", "after the restart")
        resumed += await watch.until(finished(run_id))
    assert resumed[0]["seq"] > relayed[-1]["seq"]
    return after[:-1] + resumed


# -- the runtime no longer has what the client saw ---------------------------------


async def test_an_upstream_cursor_expired_on_reconnection_resyncs_the_client_from_a_snapshot(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        far = await stack.enter_async_context(
            Runtime(runtime_id=FAR, store=MemoryStore(max_events=8))
        )
        app = create_app(far)
        served = AsyncExitStack()
        port = (await served.enter_async_context(listening(app, "127.0.0.1", 0))).port
        source = remote(f"http://127.0.0.1:{port}")
        rig = await stack.enter_async_context(backend_over(tmp_path, source))
        await rig.create("w-busy")
        watch = await stack.enter_async_context(rig.watch("w-busy"))
        snapshot = await watch.frame()
        await served.aclose()
        # While the runtime is away from the backend, its worker moves on far past
        # what its small event log keeps.
        async with await far.subscribe("w-busy") as direct:
            await far.send_input("w-busy", "while nobody was watching")
            ran = await until(direct, "run_finished")
        async with listening(app, "127.0.0.1", port):
            ending = await watch.frame()
            code = await watch.close_code()
            async with rig.watch("w-busy", snapshot["cursor"]) as stale:
                again = await stale.frame()
                stale_code = await stale.close_code()
            async with rig.watch("w-busy") as fresh:
                resync = await fresh.frame()
    assert (ending["kind"], ending["code"], code) == ("diagnostic", "cursor_expired", 4410)
    assert (again["kind"], again["code"], stale_code) == ("diagnostic", "cursor_expired", 4410)
    assert event_is("snapshot")(resync)
    assert resync["seq"] >= ran[-1].seq
    worker = resync["event"]["worker"]
    assert (worker["runtime_id"], worker["status"], worker["runs"]) == (FAR, "idle", 1)


async def test_a_runtime_that_comes_back_without_the_worker_ends_the_stream_worker_not_found(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        far = await stack.enter_async_context(Runtime(runtime_id=FAR))
        served = AsyncExitStack()
        port = (await served.enter_async_context(listening(create_app(far), "127.0.0.1", 0))).port
        rig = await stack.enter_async_context(
            backend_over(tmp_path, remote(f"http://127.0.0.1:{port}"))
        )
        await rig.create("w-gone")
        watch = await stack.enter_async_context(rig.watch("w-gone"))
        assert event_is("snapshot")(await watch.frame())
        await served.aclose()
        # The runtime comes back on a memory store: the worker is gone with the old process.
        reborn = await stack.enter_async_context(Runtime(runtime_id=FAR))
        async with listening(create_app(reborn), "127.0.0.1", port):
            ending = await watch.frame()
            code = await watch.close_code()
    assert (ending["kind"], ending["code"], code) == ("diagnostic", "worker_not_found", 4404)
