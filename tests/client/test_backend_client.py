"""BackendClient against a served backend: its views, its errors, its streams and cursors."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from yoi.backend import (
    Backend,
    ModelLabel,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.backend.profiles import workspace_bundle
from yoi.client import BackendClient, RemoteSubscription, RuntimeClient
from yoi.engine.tool import ToolResult
from yoi.errors import (
    ApprovalNotFound,
    DuplicateWorker,
    InvalidProfile,
    InvalidRequest,
    RuntimeNotFound,
    RuntimeTimeout,
    RuntimeUnavailable,
    Unauthorized,
    UnsupportedOperation,
    WorkerBusy,
    WorkerNotFound,
    WorkerStopped,
)
from yoi.providers.script import Turn
from yoi.runtime import (
    CapabilityRequest,
    Event,
    OnBusy,
    Role,
    RoleIntent,
    Runtime,
    TaskIntent,
    WorkerStatus,
)
from yoi.runtime.approvals import ApprovalAck
from yoi.runtime.events import ApprovalRequested, RunFinished, Snapshot, TextDeltaEvent
from yoi.server.listen import listening
from yoi.testing import Call, ScriptedModel, Stall, Text
from yoi.workspace import Workspace

TOKEN = "backend-client-test-token"
DEADLINE = 10.0
INTERNAL = "backend-internal"


class EchoTool:
    name = "echo"
    description = "Says back what it is given."
    parameters: Mapping[str, object] = {"type": "object", "properties": {}}

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        return ToolResult("echoed", json.dumps(dict(arguments)))


@dataclass
class Served:
    url: str
    backend: Backend
    model: ScriptedModel
    client: BackendClient

    async def raw(self, path: str, **params: str | int) -> Any:
        """The JSON body the API answers ``GET path`` with, read without BackendClient."""
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers) as http:
            response = await http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening, held until the end."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@asynccontextmanager
async def served(tmp_path: Path, turns: list[Turn] | None = None) -> AsyncIterator[Served]:
    """A backend (its embedded runtime on ``turns``, plus a remote runtime that is down)."""
    model = ScriptedModel(turns or [])
    with refused_port() as port:
        far = RemoteRuntimeSettings("far", f"http://127.0.0.1:{port}", display_name="Far box")
        remote = RemoteSource(far, RuntimeClient(far.url), probing=Probing(interval=60.0))
        backend = Backend(
            runtime=Runtime(runtime_id=INTERNAL, model=model, tools=[EchoTool()]),
            bundle=workspace_bundle(Workspace(tmp_path)),
            model=ModelLabel("scripted:test", offline=True),
            remotes=[remote],
            workspace_name="demo",
        )
        async with (
            backend,
            listening(create_backend_app(backend, token=TOKEN), "127.0.0.1", 0) as listener,
            BackendClient(listener.url, token=TOKEN) as client,
        ):
            yield Served(listener.url, backend, model, client)


async def until_event(events: RemoteSubscription, event_type: str) -> list[Event]:
    """Events up to and including the first ``event_type``, within the deadline."""
    seen: list[Event] = []
    async with asyncio.timeout(DEADLINE):
        async for event in events:
            seen.append(event)
            if event.event.type == event_type:
                return seen
    raise AssertionError(f"the stream ended before {event_type}: {[e.event.type for e in seen]}")


async def test_the_workspace_runtimes_and_companion_read_as_typed_views(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        client = server.client
        assert await client.health()
        workspace = await client.workspace()
        assert (workspace.name, workspace.model, workspace.offline) == (
            "demo",
            "scripted:test",
            True,
        )
        assert (workspace.companion_runtime_id, workspace.companion_worker_id) == (
            INTERNAL,
            "companion",
        )
        assert workspace.to_dict() == (await server.raw("/api/workspace"))["workspace"]
        assert {"default", "coder", "reviewer"} <= {profile.name for profile in workspace.profiles}

        internal, far = await client.runtimes()
        assert (internal.runtime_id, internal.kind, internal.status) == (
            INTERNAL,
            "embedded",
            "available",
        )
        assert (far.runtime_id, far.display_name, far.kind, far.status) == (
            "far",
            "Far box",
            "remote",
            "unavailable",
        )
        assert [item.to_dict() for item in (internal, far)] == (await server.raw("/api/runtimes"))[
            "runtimes"
        ]
        assert await client.runtime("far") == far
        with pytest.raises(RuntimeNotFound):
            await client.runtime("nowhere")

        companion = await client.companion()
        assert (companion.runtime_id, companion.worker_id) == (INTERNAL, "companion")
        assert companion.status is WorkerStatus.IDLE
        assert (companion.model, companion.offline) == ("scripted:test", True)
        assert companion.to_dict() == (await server.raw("/api/companion"))["companion"]


async def test_workers_are_listed_across_runtimes_in_pages_with_diagnostics(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as server:
        client = server.client
        for name in ("a1", "a2"):
            await client.create_worker(INTERNAL, worker_id=name, display_name=name.upper())
        listing = await client.workers()
        assert [item.worker_id for item in listing.workers] == ["companion", "a1", "a2"]
        assert listing.workers[1].display_ref == f"A1@{INTERNAL}"
        (problem,) = listing.diagnostics
        assert (problem.runtime_id, problem.code) == ("far", "runtime_unavailable")
        assert listing.next_after is None
        assert listing.to_dict() == await server.raw("/api/workers")

        first = await client.workers(limit=2)
        assert [item.worker_id for item in first.workers] == ["companion", "a1"]
        assert first.next_after is not None
        rest = await client.workers(limit=2, after=first.next_after)
        assert [item.worker_id for item in rest.workers] == ["a2"]
        assert rest.next_after is None

        only = await client.workers(runtime_id=INTERNAL, status=WorkerStatus.IDLE)
        assert len(only.workers) == 3
        assert only.diagnostics == ()
        with pytest.raises(RuntimeNotFound):
            await client.workers(runtime_id="nowhere")


async def test_create_carries_every_field_and_refusals_are_typed(tmp_path: Path) -> None:
    async with served(tmp_path, [[Text("started")]]) as server:
        client = server.client
        worker = await client.create_worker(
            INTERNAL,
            worker_id="scribe",
            display_name="Scribe",
            profile="builtin:default",
            intent=TaskIntent("write the notes"),
            capabilities=[CapabilityRequest("echo", "to repeat")],
            initial_input="begin",
        )
        assert (worker.worker_id, worker.display_name, worker.profile) == (
            "scribe",
            "Scribe",
            "default",
        )
        assert worker.intent == TaskIntent("write the notes")
        assert worker.capabilities == (CapabilityRequest("echo", "to repeat"),)
        assert await client.get_worker(INTERNAL, "scribe") == await client.get_worker(
            INTERNAL, "scribe"
        )
        default = await client.create_worker(INTERNAL, intent=RoleIntent("tester", "tests"))
        assert default.profile == "default"
        assert default.intent == RoleIntent("tester", "tests")

        with pytest.raises(UnsupportedOperation):
            await client.create_worker(INTERNAL, capabilities=[CapabilityRequest("web")])
        with pytest.raises(DuplicateWorker):
            await client.create_worker(INTERNAL, worker_id="scribe")
        with pytest.raises(InvalidProfile):
            await client.create_worker(INTERNAL, profile="builtin:nobody")
        with pytest.raises(RuntimeNotFound):
            await client.create_worker("nowhere")
        with pytest.raises(RuntimeUnavailable):
            await client.create_worker("far", profile="builtin:default")
        with pytest.raises(RuntimeUnavailable):
            await client.get_worker("far", "anyone")
        with pytest.raises(WorkerNotFound):
            await client.get_worker(INTERNAL, "ghost")


async def test_a_reply_streams_with_backend_cursors_and_lands_in_the_transcript(
    tmp_path: Path,
) -> None:
    turns: list[Turn] = [[Text("Hel", "lo")], [Text("again")]]
    async with served(tmp_path, turns) as server:
        client = server.client
        worker = await client.create_worker(INTERNAL, worker_id="w1")
        async with await client.subscribe(INTERNAL, worker.worker_id) as events:
            ack = await client.send_input(INTERNAL, "w1", "hi")
            assert not ack.queued
            seen = await until_event(events, "run_finished")
            after_first = events.cursor
        assert isinstance(seen[0].event, Snapshot)
        deltas = [e.event.text for e in seen if isinstance(e.event, TextDeltaEvent)]
        assert deltas == ["Hel", "lo"]
        finished = seen[-1].event
        assert isinstance(finished, RunFinished)
        assert (finished.run_id, finished.result) == (ack.run_id, "completed")
        # The backend's cursor, not the runtime's: the event cannot compute it itself.
        assert after_first is not None
        assert after_first != seen[-1].cursor

        await client.send_input(INTERNAL, "w1", "more")
        async with await client.subscribe(INTERNAL, "w1", cursor=after_first) as events:
            resumed = await until_event(events, "run_finished")
        assert isinstance(resumed[0].event, Snapshot)
        assert resumed[1].seq == seen[-1].seq + 1  # nothing of the first run again, no gap
        assert [e.event.text for e in resumed if isinstance(e.event, TextDeltaEvent)] == ["again"]

        page = await client.transcript(INTERNAL, "w1")
        assert [(item.role, item.content) for item in page.items] == [
            (Role.USER, "hi"),
            (Role.ASSISTANT, "Hello"),
            (Role.USER, "more"),
            (Role.ASSISTANT, "again"),
        ]
        second = await client.transcript(INTERNAL, "w1", start=3, limit=1)
        assert [item.content for item in second.items] == ["more"]
        assert second.next_start == 4


async def test_busy_cancel_and_stop(tmp_path: Path) -> None:
    async with served(tmp_path, [[Text("thinking..."), Stall()], [Text("queued reply")]]) as server:
        client = server.client
        await client.create_worker(INTERNAL, worker_id="w1")
        async with await client.subscribe(INTERNAL, "w1") as events:
            first = await client.send_input(INTERNAL, "w1", "long one")
            await until_event(events, "text_delta")
            with pytest.raises(WorkerBusy):
                await client.send_input(INTERNAL, "w1", "rejected")
            queued = await client.send_input(INTERNAL, "w1", "later", OnBusy.ENQUEUE)
            assert queued.queued
            assert (await client.cancel_worker(INTERNAL, "w1")).cancelled
            ended = [
                (await until_event(events, "run_finished"))[-1].event,
                (await until_event(events, "run_finished"))[-1].event,
            ]
        # Cancelling drops the queue too: both runs end cancelled.
        assert {(end.run_id, end.result) for end in ended if isinstance(end, RunFinished)} == {
            (first.run_id, "cancelled"),
            (queued.run_id, "cancelled"),
        }
        assert not (await client.cancel_worker(INTERNAL, "w1")).cancelled
        assert (await client.stop_worker(INTERNAL, "w1", "done")).stopped
        assert not (await client.stop_worker(INTERNAL, "w1")).stopped
        with pytest.raises(WorkerStopped):
            await client.send_input(INTERNAL, "w1", "too late")


async def test_the_companion_takes_messages_and_replies_on_its_stream(tmp_path: Path) -> None:
    async with served(tmp_path, [[Text("at your service")]]) as server:
        client = server.client
        companion = await client.companion()
        async with await client.subscribe(companion.runtime_id, companion.worker_id) as events:
            ack = await client.send_to_companion("hello")
            seen = await until_event(events, "run_finished")
        assert ack.worker_id == "companion"
        assert [e.event.text for e in seen if isinstance(e.event, TextDeltaEvent)] == [
            "at your service"
        ]
        page = await client.transcript(INTERNAL, "companion")
        assert [item.content for item in page.items] == ["hello", "at your service"]


async def test_stream_refusals_and_the_backend_shutting_down(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        client = server.client
        with pytest.raises(WorkerNotFound):
            await client.subscribe(INTERNAL, "ghost")
        with pytest.raises(RuntimeNotFound):
            await client.subscribe("nowhere", "ghost")
        events = await client.subscribe(INTERNAL, "companion")
        first = await anext(events)
        assert isinstance(first.event, Snapshot)
        await server.backend.close()
        async with asyncio.timeout(DEADLINE):
            rest = [event async for event in events]
        assert rest == []
        assert events.close_code == 1001


async def test_the_token_is_sent_as_a_bearer_and_required(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        async with BackendClient(server.url) as anonymous:
            assert await anonymous.health()  # liveness needs no token
            with pytest.raises(Unauthorized):
                await anonymous.workers()
            with pytest.raises(Unauthorized):
                await anonymous.subscribe(INTERNAL, "companion")
        async with BackendClient(server.url, token="wrong") as wrong:
            with pytest.raises(Unauthorized):
                await wrong.companion()


async def test_ids_are_checked_before_any_request() -> None:
    refuse = httpx.MockTransport(lambda request: pytest.fail(f"sent {request.url}"))
    async with BackendClient("http://127.0.0.1:1", transport=refuse) as client:
        with pytest.raises(InvalidRequest):
            await client.get_worker(INTERNAL, "Not/AnId")
        with pytest.raises(InvalidRequest):
            await client.workers(runtime_id="../etc")
        with pytest.raises(InvalidRequest):
            await client.create_worker(INTERNAL, worker_id="UPPER")


async def test_an_unreachable_backend_is_unavailable_and_says_nothing_of_where() -> None:
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"
        async with BackendClient(url, token=TOKEN) as client:
            assert not await client.health()
            with pytest.raises(RuntimeUnavailable, match=r"^cannot reach the backend") as caught:
                await client.workers()
            with pytest.raises(RuntimeUnavailable, match="cannot reach the backend") as streamed:
                await client.subscribe(INTERNAL, "companion")
    for error in (caught.value, streamed.value):
        assert str(port) not in error.message
        assert TOKEN not in error.message


async def test_a_silent_backend_times_out() -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with BackendClient(f"http://127.0.0.1:{port}", timeout=0.2) as client:
            assert not await client.health()
            with pytest.raises(RuntimeTimeout, match="did not answer in time"):
                await client.workspace()
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_body_that_is_not_the_api_is_unavailable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/health":
            return httpx.Response(200, json={"status": "fine, thanks"})
        return httpx.Response(200, json={"workers": "not a list"})

    async with BackendClient("http://127.0.0.1", transport=httpx.MockTransport(answer)) as client:
        assert not await client.health()  # something answers, but not a yoi backend
        with pytest.raises(RuntimeUnavailable, match="cannot read"):
            await client.workers()


async def test_an_approval_is_answered_and_refusals_are_typed(tmp_path: Path) -> None:
    profiles = Workspace(tmp_path).profiles
    profiles.mkdir(parents=True)
    guarded = '+++\ntools = ["echo"]\npermissions = ["echo -> ask"]\n+++\nYou echo.\n'
    (profiles / "guarded.md").write_text(guarded, encoding="utf-8")
    turns: list[Turn] = [[Call("echo", {"x": 1}, id="c1")], [Text("done")]]
    async with served(tmp_path, turns) as server:
        client = server.client
        await client.create_worker(
            INTERNAL, worker_id="ops", profile="guarded", capabilities=[CapabilityRequest("echo")]
        )
        async with await client.subscribe(INTERNAL, "ops") as events:
            await client.send_input(INTERNAL, "ops", "go")
            asked = (await until_event(events, "approval_requested"))[-1].event
            assert isinstance(asked, ApprovalRequested)
            with pytest.raises(InvalidRequest):
                await client.answer_approval(INTERNAL, "ops", asked.approval_id, "maybe")
            ack = await client.answer_approval(INTERNAL, "ops", asked.approval_id, "deny")
            assert ack == ApprovalAck(asked.approval_id, "deny")
            finished = (await until_event(events, "run_finished"))[-1].event
        assert isinstance(finished, RunFinished)
        assert finished.result == "completed"
        with pytest.raises(ApprovalNotFound):
            await client.answer_approval(INTERNAL, "ops", asked.approval_id, "allow")
        with pytest.raises(InvalidRequest):
            await client.answer_approval(INTERNAL, "ops", "Bad.Id", "allow")
