import asyncio
from collections.abc import AsyncIterator

import pytest

from yoi.engine import ModelChunk, ModelRequest, TextChunk
from yoi.errors import CursorExpired, InvalidCursor, SlowConsumer
from yoi.providers.script import Stall, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Event, MemoryStore, Runtime, RuntimeLimits
from yoi.runtime.cursor import encode_cursor
from yoi.testing.observe import event_types, run_to_end, until


async def test_the_first_item_is_a_snapshot_of_where_the_worker_stands() -> None:
    model = ScriptedModel([[Text("done")], [Text("so ", "far"), Stall()]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker(None)
        await run_to_end(runtime, worker.worker_id, "first")
        async with await runtime.subscribe(worker.worker_id) as live:
            await runtime.send_input(worker.worker_id, "second")
            await until(live, "text_delta", count=2)
        async with await runtime.subscribe(worker.worker_id) as subscription:
            first = await anext(subscription)
        body = first.event.to_dict()
        assert body["type"] == "snapshot"
        assert first.seq == (await runtime.get_worker(worker.worker_id)).last_seq
        assert [item["content"] for item in body["transcript_tail"]] == [  # type: ignore[attr-defined]
            "first",
            "done",
            "second",
        ]
        assert body["run"]["text"] == "so far"  # type: ignore[index]
        assert body["worker"]["status"] == "running"  # type: ignore[index]


async def test_resuming_from_a_cursor_replays_every_later_event_once() -> None:
    model = ScriptedModel([[Text("a", "b")], [Text("c", "d")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        first_run = await run_to_end(runtime, worker.worker_id, "one")
        cursor = first_run[-1].cursor
        second_run = await run_to_end(runtime, worker.worker_id, "two")
        async with await runtime.subscribe(worker.worker_id, cursor) as subscription:
            snapshot = await anext(subscription)
            replayed = await until(subscription, "run_finished")
        assert snapshot.event.type == "snapshot"
        assert [e.seq for e in replayed] == list(range(first_run[-1].seq + 1, replayed[-1].seq + 1))
        assert [e.seq for e in replayed][-len(second_run) :] == [e.seq for e in second_run]


async def test_resume_then_live_events_arrive_in_order_without_gaps() -> None:
    model = ScriptedModel([[Text("x")], [Text(*"live!")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        earlier = await run_to_end(runtime, worker.worker_id, "one")
        async with await runtime.subscribe(worker.worker_id, earlier[0].cursor) as subscription:
            await runtime.send_input(worker.worker_id, "two")
            events = await until(subscription, "run_finished", count=2)
        seqs = [e.seq for e in events[1:]]
        assert seqs == list(range(earlier[0].seq + 1, seqs[-1] + 1))


async def test_cursors_from_elsewhere_or_the_future_are_refused() -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker()
        other = await runtime.create_worker()
        last = (await runtime.get_worker(worker.worker_id)).last_seq
        bad = [
            encode_cursor(other.worker_id, 1),
            encode_cursor(worker.worker_id, last + 1),
            "not a cursor!",
            "",
        ]
        for cursor in bad:
            with pytest.raises(InvalidCursor):
                await runtime.subscribe(worker.worker_id, cursor)
            with pytest.raises(InvalidCursor):
                await runtime.events(worker.worker_id, after=cursor)


async def test_a_cursor_older_than_the_retained_backlog_has_expired() -> None:
    model = ScriptedModel([[Text(*"abcdefghij")]])
    async with Runtime(model=model, store=MemoryStore(max_events=4)) as runtime:
        worker = await runtime.create_worker()
        events = await run_to_end(runtime, worker.worker_id, "go")
        with pytest.raises(CursorExpired):
            await runtime.subscribe(worker.worker_id, events[0].cursor)
        with pytest.raises(CursorExpired):
            await runtime.events(worker.worker_id, after=events[0].cursor)
        page = await runtime.events(worker.worker_id)
        assert len(page.events) == 4
        assert page.events[-1].seq == (await runtime.get_worker(worker.worker_id)).last_seq


async def test_a_subscriber_that_falls_behind_is_cut_and_others_are_not() -> None:
    chunks = [f"{n} " for n in range(50)]
    limits = RuntimeLimits(subscriber_queue=8)
    async with Runtime(model=ScriptedModel([[Text(*chunks)]]), limits=limits) as runtime:
        worker = await runtime.create_worker()
        slow = await runtime.subscribe(worker.worker_id)
        async with await runtime.subscribe(worker.worker_id) as fast:
            await runtime.send_input(worker.worker_id, "go")
            events = await until(fast, "run_finished")
        assert event_types(events).count("text_delta") == 50
        buffered: list[Event] = []

        async def drain() -> None:
            async with asyncio.timeout(1):
                async for event in slow:
                    buffered.append(event)

        with pytest.raises(SlowConsumer) as raised:
            await drain()
        assert raised.value.code == "slow_consumer"
        assert 1 <= len(buffered) <= 9
        resumed = await runtime.subscribe(worker.worker_id, buffered[-1].cursor)
        replay = await until(resumed, "run_finished")
        assert replay[1].seq == buffered[-1].seq + 1
        await resumed.aclose()


async def test_polling_pages_through_events() -> None:
    async with Runtime(model=ScriptedModel([[Text(*"abc")]])) as runtime:
        worker = await runtime.create_worker()
        await run_to_end(runtime, worker.worker_id, "go")
        last_seq = (await runtime.get_worker(worker.worker_id)).last_seq
        first = await runtime.events(worker.worker_id, limit=2)
        rest = await runtime.events(worker.worker_id, after=first.next_cursor, limit=100)
        seqs = [e.seq for e in (*first.events, *rest.events)]
        assert seqs == list(range(1, last_seq + 1))
        tail = await runtime.events(worker.worker_id, after=rest.next_cursor)
        assert (tail.events, tail.next_cursor) == ((), rest.next_cursor)


async def test_events_serialise_to_the_wire_shape() -> None:
    async with Runtime(model=ScriptedModel([[Text("hi")]])) as runtime:
        worker = await runtime.create_worker()
        events = await run_to_end(runtime, worker.worker_id, "go")
        wire = events[-1].to_dict()
        assert set(wire) == {"seq", "at", "worker_id", "event"}
        assert str(wire["at"]).endswith("Z")
        assert wire["event"] == {
            "type": "run_finished",
            "run_id": events[0].event.to_dict()["run_id"],
            "result": "completed",
            "error": None,
        }


class BurstModel:
    """A model that hands over a long reply without ever suspending, like a buffered response."""

    name = "burst:model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        for n in range(10_000):
            yield TextChunk(f"{n} ")


async def test_a_model_that_never_suspends_does_not_starve_a_subscriber() -> None:
    async with Runtime(model=BurstModel(), limits=RuntimeLimits(subscriber_queue=256)) as runtime:
        worker = await runtime.create_worker()
        events = await run_to_end(runtime, worker.worker_id, "go")
    assert event_types(events).count("text_delta") == 10_000


async def test_a_backlog_longer_than_the_queue_does_not_cut_the_subscriber() -> None:
    model = ScriptedModel([[Text(*"abcdefghijklmnopqrst")], [Text("more")]])
    async with Runtime(model=model, limits=RuntimeLimits(subscriber_queue=4)) as runtime:
        worker = await runtime.create_worker()
        first = await run_to_end(runtime, worker.worker_id, "long")
        async with await runtime.subscribe(worker.worker_id, first[0].cursor) as subscription:
            await runtime.send_input(worker.worker_id, "short")
            events = await until(subscription, "run_finished", count=2)
    assert event_types(events).count("text_delta") == 21


async def test_a_snapshot_cuts_long_entries_and_says_so_while_the_transcript_keeps_them() -> None:
    reply = "x" * 100
    model = ScriptedModel([[Text(reply)]])
    async with Runtime(model=model, limits=RuntimeLimits(snapshot_entry_chars=10)) as runtime:
        worker = await runtime.create_worker(None)
        await run_to_end(runtime, worker.worker_id, "short")
        async with await runtime.subscribe(worker.worker_id) as subscription:
            first = await anext(subscription)
        page = await runtime.transcript(worker.worker_id)
    tail = first.event.to_dict()["transcript_tail"]
    assert isinstance(tail, list)
    assert [(item["content"], item.get("truncated")) for item in tail] == [
        ("short", None),
        ("x" * 10, True),
    ]
    assert page.items[-1].content == reply


async def test_closing_a_subscription_ends_an_iteration_waiting_in_another_task() -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker()
        subscription = await runtime.subscribe(worker.worker_id)
        await anext(subscription)  # the snapshot; nothing else will come

        reading = asyncio.Event()

        async def drain() -> list[Event]:
            reading.set()  # from here the task runs straight into waiting for an event
            return [event async for event in subscription]

        reader = asyncio.create_task(drain())
        await reading.wait()
        await subscription.aclose()
        async with asyncio.timeout(1.0):
            assert await reader == []
