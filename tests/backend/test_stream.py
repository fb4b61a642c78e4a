"""The backend's observation stream (ARCHITECTURE §4.4, §5), the same assertions for both sources.

A real WebSocket client against the backend app on a loopback socket; the
runtime under test is embedded, or remote behind its own server.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from tests.backend.rig import (
    DEADLINE,
    EMBEDDED,
    EVENT_KEYS,
    FAR,
    MODEL,
    Frame,
    Stack,
    Watch,
    open_stack,
    script,
)
from tests.server.asgi import error_of
from websockets.asyncio.client import connect

from yoi.providers.script import Turn
from yoi.runtime import FsStore, Runtime
from yoi.runtime.cursor import encode_cursor
from yoi.server.connections import ConnectionLimits
from yoi.server.listen import listening
from yoi.testing import ScriptedModel, Stall, Text, run_to_end

DIAGNOSTIC_KEYS = {"kind", "code", "message", "details"}
remote_only = pytest.mark.parametrize("stack", ["remote"], indirect=True)


def seqs(frames: list[Frame]) -> list[int]:
    return [frame["seq"] for frame in frames]


def types(frames: list[Frame]) -> list[str]:
    return [frame["event"]["type"] for frame in frames]


def contiguous(frames: list[Frame]) -> bool:
    numbers = seqs(frames)
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


async def refused_with(watch: Watch, code: str, close: int) -> dict[str, Any]:
    """The diagnostic the stream ends with, checked against its close code."""
    frame = await watch.frame()
    assert set(frame) == DIAGNOSTIC_KEYS, frame
    assert (frame["kind"], frame["code"]) == ("diagnostic", code)
    assert await watch.closed() == close
    return frame


async def turn(stack: Stack, watch: Watch, worker_id: str, content: str) -> list[Frame]:
    """Send an input; its frames, through the worker's return to idle after the run."""
    assert (await stack.send(worker_id, content)).status_code == 202
    frames = await watch.until("run_finished")
    frames += await watch.until("status")
    assert frames[-1]["event"] == {"type": "status", "status": "idle"}
    return frames


async def conversation(stack: Stack, worker_id: str, *contents: str) -> list[Frame]:
    """Send each input in turn and return every frame after the snapshot."""
    async with stack.observe(worker_id) as watch:
        await watch.frame()
        seen: list[Frame] = []
        for content in contents:
            seen += await turn(stack, watch, worker_id, content)
        return seen


# -- the snapshot and live events -----------------------------------------------------


async def test_the_first_frame_is_a_snapshot_under_the_backend_runtime_id(stack: Stack) -> None:
    await stack.create(worker_id="watched", display_name="Watched")
    async with stack.observe("watched") as watch:
        snapshot = await watch.frame()
    assert set(snapshot) == EVENT_KEYS
    assert (snapshot["kind"], snapshot["worker_id"]) == ("event", "watched")
    assert isinstance(snapshot["cursor"], str)
    assert snapshot["cursor"]
    body = snapshot["event"]
    assert body["type"] == "snapshot"
    worker = body["worker"]
    assert worker["runtime_id"] == stack.runtime_id
    assert worker["display_ref"] == f"Watched@{stack.runtime_id}"
    assert (worker["worker_id"], worker["status"]) == ("watched", "idle")
    assert snapshot["seq"] == worker["last_seq"]
    assert (body["transcript_tail"], body["run"]) == ([], None)


@script([Text("so far"), Stall()])
async def test_a_snapshot_taken_mid_run_carries_the_run_in_flight(stack: Stack) -> None:
    await stack.create(worker_id="midway")
    async with stack.observe("midway") as first:
        await first.frame()
        ack = (await stack.send("midway", "go")).json()["ack"]
        await first.until("text_delta")
        async with stack.observe("midway") as second:
            snapshot = (await second.frame())["event"]
        assert snapshot["worker"]["status"] == "running"
        assert (snapshot["run"]["run_id"], snapshot["run"]["text"]) == (ack["run_id"], "so far")
        assert [item["content"] for item in snapshot["transcript_tail"]] == ["go"]
        await stack.http.post(stack.path("midway", "cancel"), json={})
        assert (await first.until("run_finished"))[-1]["event"]["result"] == "cancelled"


@script([Text("Hel", "lo")])
async def test_live_events_arrive_in_order_with_contiguous_seqs(stack: Stack) -> None:
    await stack.create(worker_id="live")
    async with stack.observe("live") as watch:
        snapshot = await watch.frame()
        ack = (await stack.send("live", "hi")).json()["ack"]
        frames = await watch.until("run_finished")
    assert contiguous([snapshot, *frames])
    assert frames[0]["seq"] == ack["event_seq"]
    assert types(frames) == [
        "input_accepted",
        "status",
        "run_started",
        "text_delta",
        "text_delta",
        "text_done",
        "run_finished",
    ]
    assert [f["event"].get("text") for f in frames if f["event"]["type"] == "text_delta"] == [
        "Hel",
        "lo",
    ]
    assert all(set(frame) == EVENT_KEYS for frame in frames)
    assert {frame["worker_id"] for frame in frames} == {"live"}
    assert len({frame["cursor"] for frame in frames}) == len(frames)


@script([Text("same")])
async def test_every_watcher_sees_the_same_events(stack: Stack) -> None:
    await stack.create(worker_id="shared")
    async with stack.observe("shared") as one, stack.observe("shared") as two:
        await one.frame()
        await two.frame()
        await stack.send("shared", "hi")
        seen_by_one = await one.until("run_finished")
        seen_by_two = await two.until("run_finished")
    assert seen_by_one == seen_by_two


# -- resuming by cursor -----------------------------------------------------------------


@script([Text("one", "two")], [Text("a")], [Text("b")], [Text("c")])
async def test_resuming_with_a_backend_cursor_gives_exactly_the_events_after_it(
    stack: Stack,
) -> None:
    await stack.create(worker_id="resumer")
    history = await conversation(stack, "resumer", "first")
    # From the first event after the snapshot, from the middle of a run, from the last event.
    for back in (len(history), 4, 1):
        index = len(history) - back
        async with stack.observe("resumer", cursor=history[index]["cursor"]) as watch:
            assert (await watch.frame())["event"]["type"] == "snapshot"
            replayed = [await watch.frame() for _ in history[index + 1 :]]
            assert replayed == history[index + 1 :]
            # Then live events, the next one straight after the last replayed: none twice.
            live = await turn(stack, watch, "resumer", "more")
        assert contiguous([history[-1], *live])
        history += live


async def test_a_snapshot_cursor_resumes_with_nothing_missed(stack: Stack) -> None:
    await stack.create(worker_id="quiet")
    async with stack.observe("quiet") as watch:
        snapshot = await watch.frame()
    await stack.http.post(stack.path("quiet", "stop"), json={"reason": "enough"})
    async with stack.observe("quiet", cursor=snapshot["cursor"]) as watch:
        assert (await watch.frame())["event"]["type"] == "snapshot"
        missed = await watch.until("worker_stopped")
    assert seqs(missed)[0] == snapshot["seq"] + 1
    assert contiguous(missed)
    assert missed[-1]["event"] == {"type": "worker_stopped", "reason": "enough"}


@script([Text("hello")])
async def test_backend_cursors_are_not_the_runtime_cursors(stack: Stack) -> None:
    await stack.create(worker_id="cursors")
    async with await stack.runtime.subscribe("cursors") as direct:
        frames = await conversation(stack, "cursors", "hi")
        async with asyncio.timeout(DEADLINE):
            upstream = [await anext(direct) for _ in range(len(frames) + 1)]
    runtime_cursors = {event.cursor for event in upstream}
    backend_cursors = {frame["cursor"] for frame in frames}
    assert runtime_cursors.isdisjoint(backend_cursors)
    assert all(frame["cursor"] != encode_cursor("cursors", frame["seq"]) for frame in frames)
    assert [event.seq for event in upstream[1:]] == seqs(frames)


# -- refusals ---------------------------------------------------------------------------


@script([Text("hi back")])
async def test_a_runtime_cursor_is_invalid_cursor(stack: Stack) -> None:
    await stack.create(worker_id="mine")
    frames = await conversation(stack, "mine", "hi")
    runtime_cursor = encode_cursor("mine", frames[0]["seq"])
    async with stack.observe("mine", cursor=runtime_cursor) as watch:
        diagnostic = await refused_with(watch, "invalid_cursor", 4400)
    assert runtime_cursor not in diagnostic["message"]


async def test_a_cursor_of_another_worker_is_invalid_cursor(stack: Stack) -> None:
    await stack.create(worker_id="alpha")
    await stack.create(worker_id="beta")
    async with stack.observe("alpha") as watch:
        alpha_cursor = (await watch.frame())["cursor"]
    async with stack.observe("beta", cursor=alpha_cursor) as watch:
        await refused_with(watch, "invalid_cursor", 4400)
    async with stack.observe("alpha", cursor=alpha_cursor) as watch:
        assert (await watch.frame())["event"]["type"] == "snapshot"


async def test_a_malformed_cursor_or_one_from_the_future_is_invalid_cursor(stack: Stack) -> None:
    await stack.create(worker_id="odd")
    async with stack.observe("odd") as watch:
        cursor = (await watch.frame())["cursor"]
    ahead = with_seq(cursor, 999)  # this worker's, far past its last event
    for bad in ("garbage", "YjE6Zm9v", ahead):
        async with stack.observe("odd", cursor=bad) as watch:
            await refused_with(watch, "invalid_cursor", 4400)


def with_seq(cursor: str, seq: int) -> str:
    """A backend cursor like ``cursor`` for another seq (the backend's own encoding)."""
    padded = cursor + "=" * (-len(cursor) % 4)
    head, _, _ = base64.urlsafe_b64decode(padded).decode().rpartition(":")
    raw = f"{head}:{seq}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


async def test_an_unknown_worker_or_runtime_is_refused_before_the_upgrade(stack: Stack) -> None:
    unknown_worker = error_of(await stack.refused("nobody"), 404)
    assert unknown_worker["code"] == "worker_not_found"
    unknown_runtime = error_of(await stack.refused("nobody", runtime_id="nowhere"), 404)
    assert unknown_runtime["code"] == "runtime_not_found"
    malformed = error_of(await stack.refused("No.Body"), 400)
    assert malformed["code"] == "invalid_request"


@script([Text("still here")])
async def test_a_client_frame_other_than_a_ping_is_observation_only(stack: Stack) -> None:
    await stack.create(worker_id="talkative")
    async with stack.observe("talkative") as watch:
        await watch.frame()
        await watch.send({"kind": "ping"})
        await stack.send("talkative", "hi")
        assert (await watch.until("run_finished"))[-1]["event"]["result"] == "completed"
        assert (await watch.until("status"))[-1]["event"]["status"] == "idle"
        await watch.send({"kind": "input", "content": "may I?"})
        await refused_with(watch, "observation_only", 4405)
    async with stack.observe("talkative") as watch:
        await watch.frame()
        await watch.connection.send(b"\x00binary")
        await refused_with(watch, "observation_only", 4405)


async def test_the_backend_closing_ends_the_stream_going_away(stack: Stack) -> None:
    await stack.create(worker_id="leaving")
    async with stack.observe("leaving") as watch:
        await watch.frame()
        await stack.backend.close()
        assert await watch.closed(deadline=1.0) == 1001


# -- slow consumers ---------------------------------------------------------------------

BIG_CHUNKS = [f"{n:05d}" + "y" * 16000 for n in range(1500)]
"""About 24 MB of deltas in one run: far more than default socket buffers hold."""


@script([Text(*BIG_CHUNKS)])
async def test_a_client_that_stops_reading_is_cut_as_slow_consumer_before_any_ping(
    stack: Stack,
) -> None:
    """A websockets client with default buffers, which stops reading once its queue is full.

    No patience, so the cut has happened by the time the run ends (a client
    that still reads gets ``max_unsent_seconds`` to drain the buffer).
    """
    await stack.create(worker_id="firehose")
    impatient = ConnectionLimits(max_unsent_seconds=0)
    served = listening(stack.app, "127.0.0.1", 0, ping_interval=60, limits=impatient)
    async with served as listener:
        url = f"ws://127.0.0.1:{listener.port}{stack.path('firehose', 'events', 'ws')}"
        client = await connect(url, open_timeout=DEADLINE, compression=None, max_size=None)
        watch = Watch(client)
        assert (await watch.frame())["event"]["type"] == "snapshot"
        direct = await stack.runtime.subscribe("firehose")
        assert (await stack.send("firehose", "go")).status_code == 202
        async with asyncio.timeout(DEADLINE * 3):
            async for event in direct:
                if event.event.type == "run_finished":
                    break
        await direct.aclose()
        # The stalled client reads only now: what the sockets held, then the diagnostic.
        stalled = [await watch.frame()]
        while stalled[-1]["kind"] == "event":
            stalled.append(await watch.frame())
        *events, diagnostic = stalled
        assert (diagnostic["kind"], diagnostic["code"]) == ("diagnostic", "slow_consumer")
        assert await watch.closed() == 4429
        await client.close()
    assert "run_finished" not in types(events)
    assert contiguous(events)


# -- an upstream drop -----------------------------------------------------------------------


@remote_only
@script([Text("partial"), Stall()], [Text("while away")], [Text("back again")])
async def test_the_stream_resumes_transparently_after_the_remote_runtime_restarts(
    stack: Stack,
) -> None:
    upstream = stack.upstream
    assert upstream is not None
    await stack.create(worker_id="survivor")
    async with stack.observe("survivor") as watch:
        snapshot = await watch.frame()
        assert (await stack.send("survivor", "start")).status_code == 202
        before = await watch.until("text_delta")
        await upstream.stop()
        down = error_of(await stack.http.get(stack.path("survivor")), 503)
        assert down["code"] == "runtime_unavailable"
        # While its server is down, the runtime goes on: the run ends, another one runs.
        await stack.runtime.cancel_worker("survivor")
        await run_to_end(stack.runtime, "survivor", "while away")
        await upstream.start()
        after = await watch.until("run_finished", count=2)
        assert (await stack.send("survivor", "and now")).status_code == 202
        live = await watch.until("run_finished")
    frames = [snapshot, *before, *after, *live]
    assert contiguous(frames)
    log = (await stack.runtime.events("survivor", limit=500)).events
    assert [(event.seq, event.event.type) for event in log if event.seq > snapshot["seq"]][
        : len(frames) - 1
    ] == [(frame["seq"], frame["event"]["type"]) for frame in frames[1:]]
    finished = [f["event"]["result"] for f in frames if f["event"]["type"] == "run_finished"]
    assert finished == ["cancelled", "completed", "completed"]


async def test_the_stream_resumes_after_the_remote_runtime_restarts_on_its_store(
    tmp_path: Path,
) -> None:
    """A new runtime process on the same fs store: the stream goes on across the restart."""
    store = tmp_path / "far"
    turns: list[Turn] = [[Text("partial"), Stall()]]
    async with open_stack("remote", turns, tmp_path, store=FsStore(store)) as stack:
        upstream = stack.upstream
        assert upstream is not None
        await stack.create(worker_id="phoenix")
        async with stack.observe("phoenix") as watch:
            snapshot = await watch.frame()
            await stack.send("phoenix", "start")
            before = await watch.until("text_delta")
            await upstream.stop()
            await stack.runtime.close()  # its run in flight ends, recorded in the store
            model = ScriptedModel([[Text("reborn")]], name=MODEL)
            async with Runtime(runtime_id=FAR, store=FsStore(store), model=model) as reborn:
                upstream.runtime = reborn
                await upstream.start()
                lost = await watch.until("run_finished")
                assert (await stack.send("phoenix", "again")).status_code == 202
                live = await watch.until("run_finished")
                await upstream.stop()
    frames = [snapshot, *before, *lost, *live]
    assert contiguous(frames)
    assert lost[-1]["event"]["result"] == "cancelled"
    assert live[-1]["event"]["result"] == "completed"
    assert [f["event"]["text"] for f in live if f["event"]["type"] == "text_done"] == ["reborn"]
    stack.model.assert_consumed()
    model.assert_consumed()


async def test_the_companion_stream_is_on_the_embedded_runtime(stack: Stack) -> None:
    async with stack.observe("companion", runtime_id=EMBEDDED) as watch:
        worker = (await watch.frame())["event"]["worker"]
    assert (worker["runtime_id"], worker["worker_id"]) == (EMBEDDED, "companion")
    if stack.kind == "remote":
        refusal = error_of(await stack.refused("companion"), 404)
        assert refusal["code"] == "worker_not_found"
