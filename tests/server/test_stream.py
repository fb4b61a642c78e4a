"""The observation stream over a real socket (ARCHITECTURE §4.4): frames, resume, refusals."""

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from yoi.client import RemoteSubscription, RuntimeClient
from yoi.errors import CursorExpired, InvalidCursor, SlowConsumer, Unauthorized, WorkerNotFound
from yoi.providers.script import Turn
from yoi.runtime import Event, FsStore, Input, MemoryStore, OnBusy, Runtime, RuntimeLimits
from yoi.runtime.cursor import encode_cursor
from yoi.runtime.events import RunFinished
from yoi.server import create_app
from yoi.server.connections import ConnectionLimits
from yoi.server.listen import Listener, listening
from yoi.testing import ScriptedModel, Stall, Text, Wait, until

TOKEN = "stream-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEADLINE = 10.0
EVENT_KEYS = {"kind", "cursor", "seq", "at", "worker_id", "event"}
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


@asynccontextmanager
async def served(runtime: Runtime, *, ping_interval: float = 20.0) -> AsyncIterator[Listener]:
    app = create_app(runtime, token=TOKEN)
    async with listening(app, "127.0.0.1", 0, ping_interval=ping_interval) as listener:
        yield listener


def stream_url(listener: Listener, worker_id: str, cursor: str | None = None) -> str:
    url = f"ws://127.0.0.1:{listener.port}/v1/workers/{worker_id}/events/ws"
    return url if cursor is None else f"{url}?cursor={cursor}"


async def frame(connection: ClientConnection) -> dict[str, object]:
    async with asyncio.timeout(DEADLINE):
        text = await connection.recv(decode=True)
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def event_type(frame: dict[str, object]) -> object:
    body = frame.get("event")
    return body.get("type") if isinstance(body, dict) else None


async def close_code(connection: ClientConnection) -> int | None:
    """Wait for the server to close; the code it closed with."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(DEADLINE):
            await connection.recv()
    received = closed.value.rcvd
    return None if received is None else received.code


async def events_until(
    subscription: RemoteSubscription, event_type: str, *, count: int = 1
) -> list[Event]:
    """Events up to and including the ``count``-th ``event_type``, within the deadline."""
    seen: list[Event] = []
    async with asyncio.timeout(DEADLINE):
        async for event in subscription:
            seen.append(event)
            if event.event.type == event_type and (count := count - 1) == 0:
                return seen
    raise AssertionError(f"the stream ended before {event_type}: {seen}")


def seqs(events: list[Event]) -> list[int]:
    return [event.seq for event in events]


# -- a peer that speaks WebSocket by hand --------------------------------------


async def raw_upgrade(
    listener: Listener, worker_id: str, *, receive_buffer: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection that has completed the WebSocket handshake, and nothing more."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", listener.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /v1/workers/{worker_id}/events/ws HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{listener.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {TOKEN}\r\n\r\n"
    )
    writer.write(request.encode())
    async with asyncio.timeout(DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def read_to_close(reader: asyncio.StreamReader) -> tuple[list[dict[str, object]], int]:
    """Every text frame up to the server's close frame, and the close code it carries."""
    texts: list[dict[str, object]] = []
    async with asyncio.timeout(DEADLINE):
        opcode, payload = await read_frame(reader)
        while opcode != CLOSE:
            if opcode == TEXT:
                texts.append(json.loads(payload))
            opcode, payload = await read_frame(reader)
    return texts, int.from_bytes(payload[:2], "big")


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unfragmented server frame (servers never mask): its opcode and payload."""
    first, second = await reader.readexactly(2)
    assert first & 0x80, "the server fragmented a frame"
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return first & 0x0F, await reader.readexactly(length)


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A short masked frame, as a client must send."""
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


# -- frames --------------------------------------------------------------------


async def test_the_first_frame_is_a_snapshot_of_the_run_in_flight_with_its_cursor() -> None:
    model = ScriptedModel([[Text("so ", "far"), Stall()]])
    async with Runtime(model=model) as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        async with await runtime.subscribe(worker.worker_id) as observer:
            await runtime.send_input(worker.worker_id, "hello")
            await until(observer, "text_delta", count=2)
        async with connect(stream_url(listener, worker.worker_id), additional_headers=AUTH) as ws:
            first = await frame(ws)
            assert set(first) == EVENT_KEYS
            assert first["kind"] == "event"
            detail = await runtime.get_worker(worker.worker_id)
            assert first["seq"] == detail.last_seq
            assert first["worker_id"] == worker.worker_id
            assert str(first["at"]).endswith("Z")
            body = first["event"]
            assert isinstance(body, dict)
            assert set(body) == {"type", "worker", "transcript_tail", "run"}
            assert body["type"] == "snapshot"
            assert body["worker"] == detail.to_dict()
            assert [item["content"] for item in body["transcript_tail"]] == ["hello"]
            assert body["run"]["text"] == "so far"
            cursor = first["cursor"]
            assert isinstance(cursor, str)
            page = await runtime.events(worker.worker_id, after=cursor)
            assert (page.events, page.next_cursor) == ((), cursor)

            await runtime.cancel_worker(worker.worker_id)
            live = await frame(ws)
        assert set(live) == EVENT_KEYS
        assert live["seq"] == detail.last_seq + 1
        (recorded,) = (await runtime.events(worker.worker_id, after=cursor, limit=1)).events
        assert live == {"kind": "event", "cursor": recorded.cursor, **recorded.to_dict()}


async def test_a_snapshot_comes_first_even_for_an_idle_worker_resumed_at_its_last_event() -> None:
    async with Runtime() as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        last = encode_cursor(worker.worker_id, worker.last_seq)
        url = stream_url(listener, worker.worker_id, last)
        async with connect(url, additional_headers=AUTH) as ws:
            first = await frame(ws)
            assert first["event"] == {
                "type": "snapshot",
                "worker": (await runtime.get_worker(worker.worker_id)).to_dict(),
                "transcript_tail": [],
                "run": None,
            }
            assert first["cursor"] == last


# -- resume --------------------------------------------------------------------


async def test_resuming_by_cursor_across_a_reconnect_misses_and_repeats_nothing() -> None:
    steps: Turn = [Text("a"), Wait(0.05), Text("b"), Wait(0.05), Text("c"), Wait(0.05), Text("d")]
    async with Runtime(model=ScriptedModel([steps])) as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        async with (
            RuntimeClient(listener.url, token=TOKEN) as client,
            await runtime.subscribe(worker.worker_id) as observer,
        ):
            async with await client.subscribe(worker.worker_id) as first:
                snapshot = await anext(first)
                await runtime.send_input(worker.worker_id, "go")
                before = await events_until(first, "text_delta")
                before += await events_until(first, "text_delta")
            await until(observer, "text_delta", count=3)  # events the client is not there for
            async with await client.subscribe(worker.worker_id, before[-1].cursor) as second:
                resnapshot = await anext(second)
                after = await events_until(second, "run_finished")
        assert snapshot.event.type == resnapshot.event.type == "snapshot"
        assert resnapshot.seq > before[-1].seq  # the snapshot is current; the backlog follows it
        page = await runtime.events(
            worker.worker_id, after=snapshot.cursor, limit=len(before + after)
        )
        assert [event.to_dict() for event in before + after] == [e.to_dict() for e in page.events]
        assert seqs(before + after) == list(range(snapshot.seq + 1, after[-1].seq + 1))


async def test_a_cursor_older_than_the_retained_backlog_is_expired_with_4410() -> None:
    model = ScriptedModel([[Text(*"abcdefghijklmnop")]])
    async with (
        Runtime(model=model, store=MemoryStore(max_events=4)) as runtime,
        served(runtime) as listener,
    ):
        worker = await runtime.create_worker()
        async with await runtime.subscribe(worker.worker_id) as observer:
            await runtime.send_input(worker.worker_id, "go")
            events = await until(observer, "run_finished")
        url = stream_url(listener, worker.worker_id, events[1].cursor)
        async with connect(url, additional_headers=AUTH) as ws:
            diagnostic = await frame(ws)
            code = await close_code(ws)
        async with RuntimeClient(listener.url, token=TOKEN) as client:
            subscription = await client.subscribe(worker.worker_id, events[1].cursor)
            with pytest.raises(CursorExpired):
                await anext(subscription)
    assert diagnostic["kind"] == "diagnostic"
    assert diagnostic["code"] == "cursor_expired"
    assert str(diagnostic["message"])
    assert set(diagnostic) == {"kind", "code", "message", "details"}
    assert code == subscription.close_code == 4410


@pytest.mark.parametrize("which", ["malformed", "future", "another worker's"])
async def test_a_malformed_or_future_cursor_is_invalid_with_4400(which: str) -> None:
    async with Runtime() as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        other = await runtime.create_worker()
        cursor = {
            "malformed": "not-a-cursor",
            "future": encode_cursor(worker.worker_id, worker.last_seq + 1),
            "another worker's": encode_cursor(other.worker_id, 1),
        }[which]
        url = stream_url(listener, worker.worker_id, cursor)
        async with connect(url, additional_headers=AUTH) as ws:
            diagnostic = await frame(ws)
            code = await close_code(ws)
        async with RuntimeClient(listener.url, token=TOKEN) as client:
            subscription = await client.subscribe(worker.worker_id, cursor)
            with pytest.raises(InvalidCursor):
                await anext(subscription)
    assert diagnostic["kind"] == "diagnostic"
    assert diagnostic["code"] == "invalid_cursor"
    assert code == subscription.close_code == 4400


# -- observation only ----------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        '{"kind": "input", "content": "hi"}',
        "ping",
        '{"kind": "ping", "extra": 1}',
        b'{"kind": "ping"}',
    ],
    ids=["a command", "not json", "a ping with more", "binary"],
)
async def test_a_client_frame_other_than_ping_gets_observation_only_with_4405(
    sent: str | bytes,
) -> None:
    async with Runtime() as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        async with connect(stream_url(listener, worker.worker_id), additional_headers=AUTH) as ws:
            assert event_type(await frame(ws)) == "snapshot"
            await ws.send(sent)
            diagnostic = await frame(ws)
            code = await close_code(ws)
        assert (diagnostic["kind"], diagnostic["code"]) == ("diagnostic", "observation_only")
        assert code == 4405
        assert (await runtime.get_worker(worker.worker_id)).transcript_total == 0


async def test_a_ping_frame_is_accepted_silently() -> None:
    async with Runtime(model=ScriptedModel([[Text("pong")]])) as runtime:
        async with served(runtime) as listener:
            worker = await runtime.create_worker()
            url = stream_url(listener, worker.worker_id)
            async with connect(url, additional_headers=AUTH) as ws:
                snapshot = await frame(ws)
                for _ in range(3):
                    await ws.send('{"kind": "ping"}')
                await runtime.send_input(worker.worker_id, "go")
                following = [await frame(ws)]
                while event_type(following[-1]) != "run_finished":
                    following.append(await frame(ws))
        assert {item["kind"] for item in following} == {"event"}
        first = int(str(snapshot["seq"])) + 1
        assert [item["seq"] for item in following] == list(range(first, first + len(following)))


# -- slow consumers ------------------------------------------------------------


async def follow_runs(
    client: RuntimeClient, subscription: RemoteSubscription, cursor: str, worker_id: str, runs: int
) -> tuple[list[Event], int]:
    """Every event up to the ``runs``-th ``run_finished``, resuming after each cut; and the cuts."""
    seen: list[Event] = []
    cuts = 0
    while True:
        try:
            left = runs - [event.event.type for event in seen].count("run_finished")
            seen += await events_until(subscription, "run_finished", count=left)
            await subscription.aclose()
            return seen, cuts
        except SlowConsumer:
            cuts += 1
        cursor = seen[-1].cursor if seen else cursor
        subscription = await client.subscribe(worker_id, cursor)
        assert (await anext(subscription)).event.type == "snapshot"


RUNS = 5
CHUNKS = [f"{n:04d}" + "x" * 8000 for n in range(250)]
"""About 10 MB of deltas over five runs: more than the socket buffers between a server and a
peer that stopped reading can hold, so the server's sends block and its queue overflows."""


async def test_a_subscriber_that_falls_behind_is_cut_and_resumes_without_gaps() -> None:
    model = ScriptedModel([[Text(*CHUNKS)]] * RUNS)
    limits = RuntimeLimits(subscriber_queue=8, snapshot_transcript_tail=2)  # small snapshots
    async with Runtime(model=model, limits=limits) as runtime:
        async with served(runtime) as listener, RuntimeClient(listener.url, token=TOKEN) as client:
            worker = await runtime.create_worker()
            reader, writer = await raw_upgrade(listener, worker.worker_id, receive_buffer=4096)
            healthy = await client.subscribe(worker.worker_id)
            snapshot = await anext(healthy)
            for n in range(RUNS):
                await runtime.send_input(worker.worker_id, Input(f"go {n}", OnBusy.ENQUEUE))
            # A subscriber that reads may be cut too (a queue of 8 is tiny): then it resumes by
            # cursor and misses nothing. Either way the worker finishes every run.
            followed, _ = await follow_runs(
                client, healthy, snapshot.cursor, worker.worker_id, RUNS
            )
            finished = [event.event for event in followed if isinstance(event.event, RunFinished)]
            assert [body.result for body in finished] == ["completed"] * RUNS

            # The stalled peer reads only now: what the sockets held, then the diagnostic.
            texts, close_code = await read_to_close(reader)
            await hang_up(writer)
            assert close_code == 4429
            *stalled, diagnostic = texts
            assert (diagnostic["kind"], diagnostic["code"]) == ("diagnostic", "slow_consumer")
            assert event_type(stalled[0]) == "snapshot"

            cursor = str(stalled[-1]["cursor"])
            async with await client.subscribe(worker.worker_id, cursor) as rest:
                await anext(rest)
                left = [event_type(item) for item in stalled].count("run_finished")
                resumed = await events_until(rest, "run_finished", count=RUNS - left)
        end = followed[-1].seq
        assert seqs(followed) == list(range(snapshot.seq + 1, end + 1))
        stalled_seqs = [int(str(item["seq"])) for item in stalled[1:]]
        assert len(stalled_seqs) < len(followed)
        assert stalled_seqs + seqs(resumed) == list(range(snapshot.seq + 1, end + 1))


BIG_CHUNKS = [f"{n:05d}" + "y" * 16000 for n in range(1500)]
"""About 24 MB of deltas in one run: far more than default socket buffers hold."""


async def test_a_reader_that_stops_is_cut_as_slow_consumer_long_before_a_ping_would_drop_it() -> (
    None
):
    """With socket buffers of the default size, the backlog bound cuts, not the ping timeout.

    No patience, so the cut has happened by the time the run ends (a reader
    that still reads gets ``max_unsent_seconds`` to drain the buffer).
    """
    model = ScriptedModel([[Text(*BIG_CHUNKS)]])
    app = create_app(runtime := Runtime(model=model), token=TOKEN)
    impatient = ConnectionLimits(max_unsent_seconds=0)
    served = listening(app, "127.0.0.1", 0, ping_interval=60, limits=impatient)
    async with runtime, served as listener:
        worker = await runtime.create_worker()
        reader, writer = await raw_upgrade(listener, worker.worker_id)
        direct = await runtime.subscribe(worker.worker_id)
        await runtime.send_input(worker.worker_id, "go")
        async with asyncio.timeout(DEADLINE * 3):
            async for event in direct:
                if isinstance(event.event, RunFinished):
                    break
        await direct.aclose()
        # The stalled peer reads only now: what the sockets held, then the diagnostic.
        texts, close_code = await read_to_close(reader)
        await hang_up(writer)
    assert close_code == 4429
    *stalled, diagnostic = texts
    assert (diagnostic["kind"], diagnostic["code"]) == ("diagnostic", "slow_consumer")
    assert event_type(stalled[0]) == "snapshot"
    assert "run_finished" not in [event_type(item) for item in stalled]
    seqs_seen = [int(str(item["seq"])) for item in stalled]
    assert seqs_seen == list(range(seqs_seen[0], seqs_seen[0] + len(seqs_seen)))


# -- keepalive -----------------------------------------------------------------


async def test_a_peer_that_never_answers_pings_is_disconnected() -> None:
    async with Runtime() as runtime, served(runtime, ping_interval=0.2) as listener:
        worker = await runtime.create_worker()
        reader, writer = await raw_upgrade(listener, worker.worker_id)
        opcodes: list[int] = []
        async with asyncio.timeout(DEADLINE):
            while not reader.at_eof():
                try:
                    opcode, payload = await read_frame(reader)
                except asyncio.IncompleteReadError:
                    break
                opcodes.append(opcode)
        await hang_up(writer)
    assert opcodes[0] == TEXT  # the snapshot
    assert PING in opcodes
    assert opcodes[-1] == CLOSE
    assert int.from_bytes(payload[:2], "big") == 1011


async def test_a_client_that_answers_pings_stays_connected_across_intervals() -> None:
    async with Runtime(model=ScriptedModel([[Text("still here")]])) as runtime:
        async with served(runtime, ping_interval=0.2) as listener:
            worker = await runtime.create_worker()
            url = stream_url(listener, worker.worker_id)
            async with connect(url, additional_headers=AUTH, ping_interval=None) as ws:
                await frame(ws)
                # A second peer, answering by hand, counts the server's pings for us.
                reader, writer = await raw_upgrade(listener, worker.worker_id)
                pings = 0
                async with asyncio.timeout(DEADLINE):
                    while pings < 3:
                        opcode, payload = await read_frame(reader)
                        if opcode == PING:
                            pings += 1
                            writer.write(client_frame(PONG, payload))
                await hang_up(writer)
                await runtime.send_input(worker.worker_id, "still there?")
                live = await frame(ws)
        assert live["kind"] == "event"
        assert live["seq"] == worker.last_seq + 1


# -- refusals before the upgrade -----------------------------------------------


async def test_an_unknown_worker_is_refused_with_404_before_the_upgrade() -> None:
    async with Runtime() as runtime, served(runtime) as listener:
        with pytest.raises(InvalidStatus) as refused:
            await connect(stream_url(listener, "w-nobody"), additional_headers=AUTH)
        async with RuntimeClient(listener.url, token=TOKEN) as client:
            with pytest.raises(WorkerNotFound):
                await client.subscribe("w-nobody")
    response = refused.value.response
    assert response.status_code == 404
    assert json.loads(bytes(response.body or b""))["error"]["code"] == "worker_not_found"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong"}, 401, "unauthorized"),
        ({**AUTH, "Origin": "http://127.0.0.1:1"}, 403, "forbidden_origin"),
    ],
    ids=["no token", "wrong token", "a browser origin"],
)
async def test_credentials_and_browsers_are_checked_before_the_upgrade(
    headers: dict[str, str], status: int, code: str
) -> None:
    async with Runtime() as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        with pytest.raises(InvalidStatus) as refused:
            await connect(stream_url(listener, worker.worker_id), additional_headers=headers)
    response = refused.value.response
    assert response.status_code == status
    assert json.loads(bytes(response.body or b""))["error"]["code"] == code


async def test_a_client_with_a_wrong_token_is_unauthorized() -> None:
    async with Runtime() as runtime, served(runtime) as listener:
        worker = await runtime.create_worker()
        async with RuntimeClient(listener.url, token="wrong") as client:
            with pytest.raises(Unauthorized):
                await client.subscribe(worker.worker_id)


# -- shutdown ------------------------------------------------------------------


async def test_shutdown_ends_the_stream_and_a_new_runtime_resumes_the_cursor(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([[Text("half ", "way"), Stall()]])
    async with (
        Runtime(store=FsStore(tmp_path), model=model) as runtime,
        served(runtime) as listener,
        RuntimeClient(listener.url, token=TOKEN) as client,
    ):
        worker = await runtime.create_worker()
        subscription = await client.subscribe(worker.worker_id)
        snapshot = await anext(subscription)
        await runtime.send_input(worker.worker_id, "go")
        seen = await events_until(subscription, "text_delta")
        await runtime.close()
        async with asyncio.timeout(DEADLINE):
            seen += [event async for event in subscription]
        assert subscription.close_code == 1001

    async with (
        Runtime(store=FsStore(tmp_path), model=ScriptedModel([])) as reopened,
        served(reopened) as listener,
        RuntimeClient(listener.url, token=TOKEN) as client,
    ):
        expected = (await reopened.events(worker.worker_id, after=seen[-1].cursor)).events
        async with await client.subscribe(worker.worker_id, seen[-1].cursor) as resumed:
            resnapshot = await anext(resumed)
            async with asyncio.timeout(DEADLINE):
                rest = [await anext(resumed) for _ in expected]
        detail = await reopened.get_worker(worker.worker_id)
    assert resnapshot.event.type == "snapshot"
    assert [event.to_dict() for event in rest] == [event.to_dict() for event in expected]
    assert seqs(seen + rest) == list(range(snapshot.seq + 1, detail.last_seq + 1))
    assert "run_finished" in [event.event.type for event in seen + rest]
    assert str(detail.status) == "idle"
