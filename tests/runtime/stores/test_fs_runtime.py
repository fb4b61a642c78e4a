"""A runtime on the filesystem store: restarts, interrupted runs, retention, compaction."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import pytest

from yoi.engine.messages import AssistantMessage, UserMessage
from yoi.errors import CursorExpired, StoreLocked, StoreMissing
from yoi.providers.script import Text, Think, Usage
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    AssistantIntent,
    CreateWorkerRequest,
    Event,
    EventBody,
    FsLimits,
    FsStore,
    Runtime,
    TaskIntent,
    WorkerStatus,
)
from yoi.runtime.events import (
    InputAccepted,
    RunFinished,
    RunStarted,
    StatusChanged,
    WorkerCreated,
)
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.stores.fs import RESTART_SEQ_GAP
from yoi.runtime.transcript import Role, TranscriptEntry
from yoi.testing.observe import all_events, event_types, until, until_idle

T = TypeVar("T")


async def converse(runtime: Runtime, worker_id: str, content: str) -> list[Event]:
    """Send input to an idle worker; its events (no snapshot) until it is idle again."""
    async with await runtime.subscribe(worker_id) as subscription:
        await runtime.send_input(worker_id, content)
        return (await until(subscription, "status", count=2))[1:]


def segment_files(root: Path, worker_id: str, log: str) -> list[Path]:
    return sorted((root / "workers" / worker_id / log).glob("*.jsonl"))


def first_seq(path: Path) -> int:
    return int(path.name[:12])


async def test_a_restart_brings_back_the_runtime_its_workers_and_their_history(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    request = CreateWorkerRequest(
        display_name="scribe", intent=TaskIntent("keep notes"), profile="builtin:coder"
    )
    first_model = ScriptedModel([[Text("first ", "answer"), Usage(7, 2)]])
    async with Runtime(store=FsStore(root), model=first_model, display_name="home") as runtime:
        worker_id = (await runtime.create_worker(request)).worker_id
        await runtime.create_worker(CreateWorkerRequest(worker_id="spare"))
        await converse(runtime, worker_id, "hello")
        runtime_id = runtime.runtime_id
        before = (await runtime.list_workers()).items
        old_events = await all_events(runtime, worker_id)
        old_page = await runtime.transcript(worker_id)

    second_model = ScriptedModel([[Text("second answer")]])
    async with Runtime(store=FsStore(root), model=second_model) as runtime:
        assert runtime.runtime_id == runtime_id
        assert (await runtime.summary()).display_name == "home"
        assert (await runtime.list_workers()).items == before
        assert before[0].display_name == "scribe"
        assert before[0].profile == "builtin:coder"
        assert (before[0].runs, before[0].transcript_total) == (1, 2)
        assert before[0].usage == {"input_tokens": 7, "output_tokens": 2}
        assert await runtime.transcript(worker_id) == old_page
        assert await all_events(runtime, worker_id) == old_events

        new_events = await converse(runtime, worker_id, "and again")
        page = await runtime.transcript(worker_id)
        after = await runtime.get_worker(worker_id)

    last = before[0].last_seq
    assert [event.seq for event in new_events] == list(range(last + 1, last + 1 + len(new_events)))
    assert after.last_seq == new_events[-1].seq
    assert (after.runs, after.status) == (2, WorkerStatus.IDLE)
    assert [(item.sequence, item.content) for item in page.items] == [
        (1, "hello"),
        (2, "first answer"),
        (3, "and again"),
        (4, "second answer"),
    ]
    (sent,) = second_model.requests
    assert sent.messages == (
        UserMessage("hello"),
        AssistantMessage("first answer"),
        UserMessage("and again"),
    )
    first_model.assert_consumed()
    second_model.assert_consumed()


async def left_by_a_crash(
    root: Path, bodies: list[EventBody], entries: list[TranscriptEntry]
) -> None:
    """The files a process leaves when it dies mid-run: a worker ``w-one`` with these events
    and transcript entries, no run_finished after them, and no CLEAN marker."""
    store = FsStore(root)
    await store.open(RuntimeRecord("rt-home", "home", 1.0))
    await store.save_worker(
        WorkerRecord("w-one", "scribe", AssistantIntent(), "builtin:default", 2.0)
    )
    await store.append_events("w-one", [Event(n, 3.0, "w-one", b) for n, b in enumerate(bodies, 1)])
    await store.append_transcript("w-one", entries)
    await store.close()
    (root / "CLEAN").unlink()


async def test_a_run_open_at_a_crash_is_interrupted_and_queued_inputs_run_after_it(
    tmp_path: Path,
) -> None:
    # A run in flight and two inputs queued behind it when the process died.
    root = tmp_path / "store"
    bodies: list[EventBody] = [
        WorkerCreated("scribe", {"kind": "assistant", "purpose": None}, "builtin:default"),
        InputAccepted("r1", "go", False, 1),
        StatusChanged("running"),
        RunStarted("r1", "scripted:test"),
        InputAccepted("r2", "then this", True, None),
        InputAccepted("r3", "and this", True, None),
    ]
    await left_by_a_crash(root, bodies, [TranscriptEntry(1, Role.USER, "go", 3.0, "r1")])

    model = ScriptedModel([[Text("two")], [Text("three")], [Text("back again")]])
    async with Runtime(store=FsStore(root), model=model) as runtime:
        await until_idle(runtime, "w-one")
        worker = await runtime.get_worker("w-one")
        assert (worker.status, worker.runs, worker.run, worker.queued_inputs) == (
            WorkerStatus.IDLE,
            3,
            None,
            0,
        )
        recovered = [event for event in await all_events(runtime, "w-one") if event.seq > 6]
        assert recovered[0].seq == 6 + RESTART_SEQ_GAP + 1
        assert recovered[0].event.to_dict()["run_id"] == "r1"
        assert recovered[0].event.to_dict()["error"]["code"] == "interrupted"  # type: ignore[index]
        ends = [(e.run_id, e.result) for e in bodies_of(recovered, RunFinished)]
        assert ends == [("r1", "failed"), ("r2", "completed"), ("r3", "completed")]
        assert [e.run_id for e in bodies_of(recovered, RunStarted)] == ["r2", "r3"]
        assert recovered[-1].event == StatusChanged("idle")
        page = await runtime.transcript("w-one")
        assert [(e.role, e.content, e.run_id) for e in page.items] == [
            (Role.USER, "go", "r1"),
            (Role.USER, "then this", "r2"),
            (Role.ASSISTANT, "two", "r2"),
            (Role.USER, "and this", "r3"),
            (Role.ASSISTANT, "three", "r3"),
        ]

        events = await converse(runtime, "w-one", "again")
        assert "run_finished" in event_types(events)
    first, second, third = model.requests
    assert first.messages == (UserMessage("go"), UserMessage("then this"))
    assert second.messages[-2:] == (AssistantMessage("two"), UserMessage("and this"))
    assert third.messages[-1] == UserMessage("again")

    async with Runtime(store=FsStore(root)) as runtime:  # the recovery was itself durable
        worker = await runtime.get_worker("w-one")
        assert (worker.status, worker.runs, worker.queued_inputs) == (WorkerStatus.IDLE, 4, 0)


async def test_a_queued_input_whose_entry_was_durable_but_not_its_start_runs_once(
    tmp_path: Path,
) -> None:
    # The driver wrote r2's user entry, then died before its run_started was durable.
    root = tmp_path / "store"
    bodies: list[EventBody] = [
        WorkerCreated("scribe", {"kind": "assistant", "purpose": None}, "builtin:default"),
        InputAccepted("r1", "go", False, 1),
        StatusChanged("running"),
        RunStarted("r1", "scripted:test"),
        InputAccepted("r2", "then this", True, None),
    ]
    entries = [
        TranscriptEntry(1, Role.USER, "go", 3.0, "r1"),
        TranscriptEntry(2, Role.ASSISTANT, "gone", 3.0, "r1"),
        TranscriptEntry(3, Role.USER, "then this", 3.0, "r2"),
    ]
    await left_by_a_crash(root, bodies, entries)

    model = ScriptedModel([[Text("two")]])
    async with Runtime(store=FsStore(root), model=model) as runtime:
        await until_idle(runtime, "w-one")
        page = await runtime.transcript("w-one")
        ends = [
            (e.run_id, e.result) for e in bodies_of(await all_events(runtime, "w-one"), RunFinished)
        ]
    assert [(e.content, e.run_id) for e in page.items] == [
        ("go", "r1"),
        ("gone", "r1"),
        ("then this", "r2"),
        ("two", "r2"),
    ]
    assert ends == [("r1", "failed"), ("r2", "completed")]
    (sent,) = model.requests
    assert sent.messages == (UserMessage("go"), AssistantMessage("gone"), UserMessage("then this"))


def bodies_of(events: list[Event], kind: type[T]) -> list[T]:
    return [event.event for event in events if isinstance(event.event, kind)]


async def test_old_event_segments_are_dropped_whole_and_their_cursors_expire(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    limits = FsLimits(
        segment_bytes=1024, retain_event_bytes=24_576, checkpoint_events=16, compact_deltas=False
    )
    runs = 12
    turns = [[Text(*(f"run {n} word {k} " for k in range(40)))] for n in range(runs)]
    async with Runtime(store=FsStore(root, limits=limits), model=ScriptedModel(turns)) as runtime:
        worker_id = (await runtime.create_worker()).worker_id
        first = await converse(runtime, worker_id, "question 0")
        for n in range(1, runs):
            await converse(runtime, worker_id, f"question {n}")

        retained = await all_events(runtime, worker_id)
        assert retained[0].seq > first[-1].seq
        assert [event.seq for event in retained] == list(
            range(retained[0].seq, retained[0].seq + len(retained))
        )
        with pytest.raises(CursorExpired):
            await runtime.events(worker_id, after=first[0].cursor)
        with pytest.raises(CursorExpired):
            await runtime.subscribe(worker_id, first[0].cursor)
        page = await runtime.transcript(worker_id, limit=100)
        assert [item.sequence for item in page.items] == list(range(1, 2 * runs + 1))
        assert page.items[0].content == "question 0"
        assert page.items[1].content.startswith("run 0 word 0 ")

    files = segment_files(root, worker_id, "events")
    assert first_seq(files[0]) >= retained[0].seq  # the last writes may have dropped more
    for earlier, later in pairwise(files):
        last_line = earlier.read_bytes().splitlines()[-1]
        assert last_line.startswith(f'{{"seq":{first_seq(later) - 1},'.encode())
    for path in files:
        assert path.read_bytes().startswith(f'{{"seq":{first_seq(path)},'.encode())
    assert len(files) > 2
    assert sum(path.stat().st_size for path in files) <= limits.retain_event_bytes

    async with Runtime(store=FsStore(root, limits=limits)) as runtime:
        assert (await all_events(runtime, worker_id))[0].seq == first_seq(files[0])
        with pytest.raises(CursorExpired):
            await runtime.events(worker_id, after=first[-1].cursor)


async def test_sealed_segments_lose_the_deltas_of_finished_runs(tmp_path: Path) -> None:
    root = tmp_path / "store"
    limits = FsLimits(segment_bytes=1024)
    thinking = Think(*(f"hmm {k} " for k in range(20)))
    turns = [(thinking, Text(*(f"run {n} word {k} " for k in range(60)))) for n in range(3)]
    async with Runtime(store=FsStore(root, limits=limits), model=ScriptedModel(turns)) as runtime:
        worker_id = (await runtime.create_worker()).worker_id
        for n in range(3):
            await converse(runtime, worker_id, f"question {n}")

    files = segment_files(root, worker_id, "events")
    sealed = [path.read_bytes() for path in files[:-1]]
    assert any(path.name.endswith("-c.jsonl") for path in files)
    for data in sealed:
        assert b'"type":"text_delta"' not in data
        assert b'"type":"thinking_delta"' not in data
    everything = b"".join(path.read_bytes() for path in files)
    assert everything.count(b'"type":"text_done"') == 3
    assert everything.count(b'"type":"run_finished"') == 3

    async with Runtime(store=FsStore(root, limits=limits)) as runtime:
        events = await all_events(runtime, worker_id)
        page = await runtime.transcript(worker_id)
    seqs = [event.seq for event in events]
    assert seqs == sorted(set(seqs))
    assert seqs[0] == 1
    types = event_types(events)
    assert (types.count("text_done"), types.count("run_finished")) == (3, 3)
    assert types.count("text_delta") < 60  # only what the unsealed last segment still holds
    assert [item.content for item in page.items][1::2] == [
        "".join(f"run {n} word {k} " for k in range(60)) for n in range(3)
    ]


async def test_a_transcript_page_reads_only_the_segments_that_hold_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    limits = FsLimits(segment_bytes=256)
    runs = 20
    model = ScriptedModel([[Text(f"answer {n}")] for n in range(runs)])
    async with Runtime(store=FsStore(root, limits=limits), model=model) as runtime:
        worker_id = (await runtime.create_worker()).worker_id
        for n in range(runs):
            await converse(runtime, worker_id, f"question {n}")
    expected = [text for n in range(runs) for text in (f"question {n}", f"answer {n}")]
    files = segment_files(root, worker_id, "transcript")
    assert len(files) > 8

    async with Runtime(store=FsStore(root, limits=limits)) as runtime:
        for size in (1, 3, 7):
            read: list[str] = []
            start: int | None = 1
            while start is not None:
                page = await runtime.transcript(worker_id, start=start, limit=size)
                assert page.start == start
                read.extend(item.content for item in page.items)
                start = page.next_start
            assert read == expected

    async with Runtime(store=FsStore(root, limits=limits)) as runtime:
        start, limit = 23, 5
        holding = [
            path
            for path, following in zip(files, [*files[1:], None], strict=True)
            if first_seq(path) <= start + limit - 1
            and (following is None or first_seq(following) > start)
        ]
        for path in files[:-1]:
            if path not in holding:
                path.unlink()
        page = await runtime.transcript(worker_id, start=start, limit=limit)
        assert [item.content for item in page.items] == expected[start - 1 : start - 1 + limit]
        with pytest.raises(StoreMissing):  # the other segments really are gone
            await runtime.transcript(worker_id, start=1, limit=limit)


async def test_a_second_store_on_an_open_root_is_refused_at_once(tmp_path: Path) -> None:
    root = tmp_path / "store"
    async with Runtime(store=FsStore(root)) as runtime:
        runtime_id = runtime.runtime_id
        second = Runtime(store=FsStore(root))
        async with asyncio.timeout(1):
            with pytest.raises(StoreLocked) as refused:
                await second.open()
        assert refused.value.code == "store_locked"
    async with Runtime(store=FsStore(root)) as runtime:
        assert runtime.runtime_id == runtime_id


async def test_a_subscriber_resumes_across_a_clean_restart_without_gaps_or_repeats(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    before_model = ScriptedModel([[Text("a", "b", "c")]])
    async with Runtime(store=FsStore(root), model=before_model) as runtime:
        worker_id = (await runtime.create_worker()).worker_id
        seen = await converse(runtime, worker_id, "first")
    cursor_at = event_types(seen).index("text_delta")

    after_model = ScriptedModel([[Text("d", "e")]])
    async with Runtime(store=FsStore(root), model=after_model) as runtime:
        subscription = await runtime.subscribe(worker_id, seen[cursor_at].cursor)
        async with subscription:
            await runtime.send_input(worker_id, "second")
            resumed = (await until(subscription, "status", count=3))[1:]

    assert resumed[: len(seen) - cursor_at - 1] == seen[cursor_at + 1 :]
    first = seen[cursor_at].seq + 1
    assert [event.seq for event in resumed] == list(range(first, first + len(resumed)))
    assert event_types(resumed)[-2:] == ["run_finished", "status"]
