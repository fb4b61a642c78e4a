"""RuntimeClient against a served runtime: the embedded runtime's views, its errors, its stream."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from yoi.client import RuntimeClient
from yoi.engine.tool import ToolResult
from yoi.errors import (
    ConfigBundleDigestMismatch,
    ConfigBundleMissing,
    DuplicateWorker,
    InvalidCursor,
    InvalidProfile,
    InvalidRequest,
    LimitTooLarge,
    RuntimeUnavailable,
    UnsupportedOperation,
    WorkerBusy,
    WorkerNotFound,
    YoiError,
)
from yoi.providers.script import Turn
from yoi.runtime import (
    CapabilityRequest,
    ConfigBundle,
    ConfigBundleRef,
    CreateWorkerRequest,
    Event,
    Input,
    OnBusy,
    Runtime,
    TaskIntent,
    WorkerStatus,
)
from yoi.server import create_app
from yoi.server.listen import listening
from yoi.testing import Call, ScriptedModel, Stall, Text, Usage, until

TOKEN = "client-test-token"
DEADLINE = 10.0
BUNDLE = ConfigBundle.from_mapping(
    {
        "revision": "r7",
        "provenance": {"source": "workspace config"},
        "profiles": {
            "helper": {"prompt": "You help.", "tools": ["echo"], "model": "openai:gpt-4o-mini"},
            "scribe": {"prompt": "You take notes.", "max_turns": 3},
        },
    }
)


class EchoTool:
    name = "echo"
    description = "Says back what it is given."
    parameters: Mapping[str, object] = {"type": "object", "properties": {}}

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        return ToolResult("echoed", json.dumps(dict(arguments)))


@asynccontextmanager
async def remote(runtime: Runtime) -> AsyncIterator[RuntimeClient]:
    """``runtime`` served on loopback, and a client of it."""
    async with (
        listening(create_app(runtime, token=TOKEN), "127.0.0.1", 0) as listener,
        RuntimeClient(listener.url, token=TOKEN) as client,
    ):
        yield client


def refusing_transport() -> httpx.MockTransport:
    """A transport that fails the test if any request reaches it."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request should be sent, but {request.method} {request.url}")

    return httpx.MockTransport(handler)


def answering(status: int, content: bytes, content_type: str) -> RuntimeClient:
    """A client of a 'runtime' that answers every request with this response."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": content_type})

    return RuntimeClient("http://runtime.invalid", transport=httpx.MockTransport(handler))


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- the same views as the embedded runtime -----------------------------------


async def test_the_runtime_summary_and_diagnostics_are_the_embedded_ones() -> None:
    async with Runtime(display_name="far away") as runtime, remote(runtime) as client:
        await runtime.create_worker()
        summary = await client.summary()
        diagnostics = await client.diagnostics()
        assert summary.to_dict() == (await runtime.summary()).to_dict()
        assert [d.to_dict() for d in diagnostics] == [
            d.to_dict() for d in await runtime.diagnostics()
        ]
    assert summary.display_name == "far away"
    assert [d.code for d in diagnostics] == ["offline_model"]


async def test_worker_views_are_the_embedded_ones() -> None:
    turns: list[Turn] = [
        [Call("echo", {"say": "hi"}), Usage(12, 3)],
        [Text("hel", "lo"), Usage(20, 2)],
        [Text("again")],
    ]
    model = ScriptedModel(turns)
    async with Runtime(model=model, tools=[EchoTool()]) as runtime, remote(runtime) as client:
        assert await client.health() is True
        await client.put_config_bundle(BUNDLE)
        request = CreateWorkerRequest(
            worker_id="scout",
            display_name="Scout",
            intent=TaskIntent(objective="look around"),
            profile="named:helper",
            config_bundle=ConfigBundleRef(BUNDLE.digest),
            requested_capabilities=(CapabilityRequest("echo", "to repeat things"),),
        )
        created = await client.create_worker(request)
        assert created.to_dict() == (await runtime.get_worker("scout")).to_dict()
        assert (created.display_name, created.intent, created.profile) == (
            "Scout",
            TaskIntent(objective="look around"),
            "named:helper",
        )
        assert (created.capabilities, created.tools) == (request.requested_capabilities, ("echo",))
        async with await runtime.subscribe("scout") as observer:
            await client.send_input("scout", "hi")
            await until(observer, "run_finished")
            await client.send_input("scout", "once more")
            await until(observer, "run_finished")
        other = await client.create_worker()

        detail = await client.get_worker("scout")
        assert detail.to_dict() == (await runtime.get_worker("scout")).to_dict()
        assert (detail.runs, detail.usage) == (2, {"input_tokens": 32, "output_tokens": 5})

        first = await client.list_workers(limit=1)
        rest = await client.list_workers(limit=1, after=first.next_after)
        assert first.to_dict() == (await runtime.list_workers(limit=1)).to_dict()
        assert rest.to_dict() == (await runtime.list_workers(limit=1, after="scout")).to_dict()
        assert [w.worker_id for w in (*first.items, *rest.items)] == ["scout", other.worker_id]
        idle = await client.list_workers(status=WorkerStatus.IDLE)
        assert idle.to_dict() == (await runtime.list_workers(status=WorkerStatus.IDLE)).to_dict()

        whole = await client.transcript("scout")
        assert whole.to_dict() == (await runtime.transcript("scout")).to_dict()
        assert [str(item.role) for item in whole.items] == [
            "user",
            "tool",
            "tool",
            "assistant",
            "user",
            "assistant",
        ]
        part = await client.transcript("scout", start=4, limit=2)
        assert part.to_dict() == (await runtime.transcript("scout", 4, 2)).to_dict()
        assert [item.content for item in part.items] == ["hello", "once more"]

        page = await client.events("scout", limit=3)
        following = await client.events("scout", after=page.next_cursor, limit=500)
        assert page.to_dict() == (await runtime.events("scout", limit=3)).to_dict()
        embedded = await runtime.events("scout", after=page.next_cursor, limit=500)
        assert following.to_dict() == embedded.to_dict()
        assert [e.seq for e in (*page.events, *following.events)] == list(
            range(1, detail.last_seq + 1)
        )


async def test_acks_report_what_the_runtime_recorded() -> None:
    model = ScriptedModel([[Stall()], [Text("thinking ", "about it"), Stall()], [Stall()]])
    async with Runtime(model=model) as runtime, remote(runtime) as client:
        started = await client.create_worker(CreateWorkerRequest(initial_input="from the start"))
        assert started.status is WorkerStatus.RUNNING
        first = await client.transcript(started.worker_id)
        assert [(str(item.role), item.content) for item in first.items] == [
            ("user", "from the start")
        ]
        await client.stop_worker(started.worker_id)

        worker = await client.create_worker()
        async with await runtime.subscribe(worker.worker_id) as observer:
            ack = await client.send_input(worker.worker_id, "work")
            await until(observer, "text_delta", count=2)
        in_flight = await client.get_worker(worker.worker_id)
        assert in_flight.to_dict() == (await runtime.get_worker(worker.worker_id)).to_dict()
        assert in_flight.run is not None
        assert (in_flight.run.run_id, in_flight.run.text) == (ack.run_id, "thinking about it")
        recorded = await runtime.events(worker.worker_id, limit=500)
        accepted = [e for e in recorded.events if e.event.type == "input_accepted"]
        assert [(e.seq, e.event.to_dict()["run_id"]) for e in accepted] == [
            (ack.event_seq, ack.run_id)
        ]
        assert (ack.worker_id, ack.queued, ack.transcript_sequence) == (worker.worker_id, False, 1)

        queued = await client.send_input(worker.worker_id, Input("later", OnBusy.ENQUEUE))
        assert queued.queued is True
        assert (await runtime.get_worker(worker.worker_id)).queued_inputs == 1

        assert (await client.cancel_worker(worker.worker_id)).to_dict() == {
            "worker_id": worker.worker_id,
            "cancelled": True,
        }
        assert (await client.stop_worker(worker.worker_id, "done")).stopped is True
        assert (await client.stop_worker(worker.worker_id)).stopped is False
        assert (await client.cancel_worker(worker.worker_id)).cancelled is False
        stopped = await runtime.get_worker(worker.worker_id)
        assert stopped.status is WorkerStatus.STOPPED
        assert (await client.get_worker(worker.worker_id)).to_dict() == stopped.to_dict()


async def test_subscribe_yields_the_runtimes_own_events() -> None:
    model = ScriptedModel([[Text("one ", "two ", "three")]])
    async with Runtime(model=model) as runtime, remote(runtime) as client:
        worker = await client.create_worker()
        async with await client.subscribe(worker.worker_id) as subscription:
            snapshot = await anext(subscription)
            await client.send_input(worker.worker_id, "count")
            seen: list[Event] = []
            async with asyncio.timeout(DEADLINE):
                async for event in subscription:
                    seen.append(event)
                    if event.event.type == "run_finished":
                        break
        recorded = await runtime.events(worker.worker_id, after=snapshot.cursor, limit=len(seen))
    assert all(isinstance(event, Event) for event in seen)
    assert snapshot.event.type == "snapshot"
    assert snapshot.seq == worker.last_seq
    assert [event.to_dict() for event in seen] == [event.to_dict() for event in recorded.events]
    assert [event.cursor for event in seen] == [event.cursor for event in recorded.events]


# -- config bundles ------------------------------------------------------------


async def test_config_bundles_round_trip() -> None:
    async with Runtime() as runtime, remote(runtime) as client:
        assert await client.config_bundles() == ()
        summary = await client.put_config_bundle(BUNDLE)
        again = await client.put_config_bundle(BUNDLE)
        listed = await client.config_bundles()
        fetched = await client.config_bundle(BUNDLE.digest)
        embedded = await runtime.config_bundles()
        with pytest.raises(ConfigBundleMissing):
            await client.config_bundle("0" * 64)
    assert summary.to_dict() == again.to_dict() == BUNDLE.summary().to_dict()
    assert [s.to_dict() for s in listed] == [s.to_dict() for s in embedded]
    assert listed[0].profiles == ("helper", "scribe")
    assert fetched.to_dict() == BUNDLE.to_dict()
    assert fetched.digest == BUNDLE.digest


# -- errors --------------------------------------------------------------------

Target = RuntimeClient | Runtime
"""The two speak the same language: each attempt below is made on both."""


async def busy(target: Target, worker_id: str) -> object:
    return await target.send_input(worker_id, "another")


async def unknown(target: Target, worker_id: str) -> object:
    return await target.get_worker("w-nobody")


async def bad_cursor(target: Target, worker_id: str) -> object:
    return await target.events(worker_id, after="not-a-cursor")


async def huge_page(target: Target, worker_id: str) -> object:
    return await target.transcript(worker_id, limit=10_000)


async def taken_id(target: Target, worker_id: str) -> object:
    return await target.create_worker(CreateWorkerRequest(worker_id=worker_id))


async def unknown_profile(target: Target, worker_id: str) -> object:
    return await target.create_worker(CreateWorkerRequest(profile="builtin:nope"))


async def missing_bundle(target: Target, worker_id: str) -> object:
    ref = ConfigBundleRef("ab" * 32)
    return await target.create_worker(CreateWorkerRequest(config_bundle=ref))


async def unoffered_tool(target: Target, worker_id: str) -> object:
    capabilities = (CapabilityRequest("teleport"),)
    return await target.create_worker(CreateWorkerRequest(requested_capabilities=capabilities))


@pytest.mark.parametrize(
    ("attempt", "error"),
    [
        (busy, WorkerBusy),
        (unknown, WorkerNotFound),
        (bad_cursor, InvalidCursor),
        (huge_page, LimitTooLarge),
        (taken_id, DuplicateWorker),
        (unknown_profile, InvalidProfile),
        (missing_bundle, ConfigBundleMissing),
        (unoffered_tool, UnsupportedOperation),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
async def test_error_envelopes_are_raised_as_the_librarys_errors(
    attempt: Callable[[Target, str], Awaitable[object]], error: type[YoiError]
) -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime, remote(runtime) as client:
        worker = await runtime.create_worker(CreateWorkerRequest(initial_input="busy now"))
        with pytest.raises(YoiError) as raised:
            await attempt(client, worker.worker_id)
        with pytest.raises(YoiError) as embedded:
            await attempt(runtime, worker.worker_id)
        assert (await runtime.summary()).worker_count == 1
    assert type(raised.value) is type(embedded.value) is error
    assert raised.value.to_dict() == embedded.value.to_dict()


async def test_a_digest_mismatch_from_the_runtime_is_raised_as_its_class() -> None:
    # A client names a bundle by the digest it computes, so only a runtime can disagree:
    # take the runtime's real answer to a wrong digest and replay it to the client.
    async with (
        Runtime() as runtime,
        listening(create_app(runtime), "127.0.0.1", 0) as listener,
        httpx.AsyncClient(base_url=listener.url) as http,
    ):
        wrong = "f" * 64
        answer = await http.put(f"/v1/config-bundles/{wrong}", json=BUNDLE.to_dict())
    assert answer.status_code == 400
    client = answering(400, answer.content, "application/json")
    async with client:
        with pytest.raises(ConfigBundleDigestMismatch) as raised:
            await client.put_config_bundle(BUNDLE)
    assert raised.value.details == {"digest": wrong, "actual": BUNDLE.digest}


@pytest.mark.parametrize(
    "attempt",
    [
        lambda c: c.get_worker("Bad Id"),
        lambda c: c.send_input("../etc", "hi"),
        lambda c: c.stop_worker("a/b"),
        lambda c: c.cancel_worker(""),
        lambda c: c.transcript("UPPER"),
        lambda c: c.events("x" * 65),
        lambda c: c.subscribe("-leading"),
        lambda c: c.config_bundle("not-a-digest"),
    ],
    ids=[
        "get",
        "input",
        "stop",
        "cancel",
        "transcript",
        "events",
        "subscribe",
        "bundle digest",
    ],
)
async def test_ids_are_checked_before_any_request(
    attempt: Callable[[RuntimeClient], Awaitable[object]],
) -> None:
    # The stream uses a real socket; a closed port makes any attempt fail differently.
    base_url = f"http://127.0.0.1:{closed_port()}"
    async with RuntimeClient(base_url, transport=refusing_transport()) as client:
        with pytest.raises(InvalidRequest) as raised:
            await attempt(client)
    assert type(raised.value) is InvalidRequest


# -- an unusable runtime -------------------------------------------------------


async def test_an_unreachable_runtime_is_unavailable_without_naming_its_url_or_token() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    token = "sEcReT-t0ken"
    async with RuntimeClient(url, token=token) as client:
        with pytest.raises(RuntimeUnavailable) as rest:
            await client.summary()
        with pytest.raises(RuntimeUnavailable) as stream:
            await client.subscribe("w1")
        assert await client.health() is False
    for error in (rest.value, stream.value):
        told = f"{error} {error.to_dict()}"
        assert "127.0.0.1" not in told
        assert str(port) not in told
        assert token not in told


@pytest.mark.parametrize(
    ("status", "content", "content_type"),
    [
        (502, b"<html><body>Bad Gateway</body></html>", "text/html"),
        (500, b'{"detail": "Internal Server Error"}', "application/json"),
        (200, b"<html>a captive portal</html>", "text/html"),
        (200, b'{"runtime": {"runtime_id": 7}}', "application/json"),
        (200, b"[1, 2, 3]", "application/json"),
    ],
    ids=["html 502", "foreign json error", "html 200", "wrong shape", "not an object"],
)
async def test_a_body_that_is_not_the_api_is_runtime_unavailable(
    status: int, content: bytes, content_type: str
) -> None:
    async with answering(status, content, content_type) as client:
        with pytest.raises(RuntimeUnavailable) as raised:
            await client.summary()
    assert type(raised.value) is RuntimeUnavailable
    assert "runtime" in raised.value.message


def streaming(text: str) -> ASGIApp:
    """A WebSocket 'runtime' that accepts any stream, sends ``text`` and closes normally."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": text})
        await send({"type": "websocket.close", "code": 1000})

    return app


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '"a string"', '{"kind": "event"}', '{"kind": "diagnostic"}'],
    ids=["not json", "an array", "a string", "an event without fields", "a bare diagnostic"],
)
async def test_a_stream_frame_that_is_not_the_api_is_runtime_unavailable(text: str) -> None:
    async with (
        listening(streaming(text), "127.0.0.1", 0) as listener,
        RuntimeClient(listener.url) as client,
        await client.subscribe("w1") as subscription,
    ):
        with pytest.raises(RuntimeUnavailable) as raised:
            async with asyncio.timeout(DEADLINE):
                await anext(subscription)
    assert type(raised.value) is RuntimeUnavailable


async def test_a_closed_client_says_so_in_the_library_vocabulary() -> None:
    client = RuntimeClient("http://127.0.0.1:9", transport=httpx.MockTransport(_never_called))
    await client.aclose()
    with pytest.raises(RuntimeUnavailable, match="closed"):
        await client.summary()


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request should be sent: {request.url}")
