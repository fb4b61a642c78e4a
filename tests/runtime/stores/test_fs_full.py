"""A full disk: each write failure is a typed store error; the store recovers without a restart.

The faults come from :class:`yoi.testing.disk.FullDisk`, passed to the store
at its :class:`~yoi.runtime.stores.fs.Disk` seam: it writes through to the
real files until its room runs out, then takes a short write and refuses the
next one, as a full filesystem does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import tempfile
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yoi.engine import ModelChunk, ModelRequest, TextChunk
from yoi.errors import StoreError, StoreFull
from yoi.runtime import CreateWorkerRequest, Event, FsStore, Role, Runtime, WorkerStatus
from yoi.runtime.events import InputAccepted, RunFinished, StatusChanged, TextDoneEvent
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.requests import AssistantIntent
from yoi.runtime.stores.fs import CREATING_PREFIX, RESTART_SEQ_GAP, FsLimits
from yoi.runtime.transcript import TranscriptEntry
from yoi.testing import ScriptedModel, Text, run_to_end, until
from yoi.testing.disk import FullDisk
from yoi.testing.observe import all_events

DEADLINE = 5.0


def leftovers(root: Path) -> list[str]:
    """Files a failed write should not leave behind: temporary files, half-built workers."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.name.endswith(".tmp") or path.name.startswith(CREATING_PREFIX)
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [(errno.ENOSPC, StoreFull), (errno.EDQUOT, StoreFull), (errno.EIO, StoreError)],
)
async def test_creating_a_worker_on_a_failing_disk_is_a_store_error_that_leaves_nothing(
    tmp_path: Path, code: int, kind: type[StoreError]
) -> None:
    disk = FullDisk(errno=code)
    model = ScriptedModel([[Text("hello")]])
    async with Runtime(store=FsStore(tmp_path, disk=disk), model=model) as runtime:
        disk.room = 0
        with pytest.raises(StoreError) as raised:
            await runtime.create_worker(CreateWorkerRequest(worker_id="w-one"))
        assert type(raised.value) is kind
        assert str(tmp_path) not in raised.value.message
        assert (await runtime.list_workers()).items == ()
        assert leftovers(tmp_path) == []

        disk.room = None
        await runtime.create_worker(CreateWorkerRequest(worker_id="w-one"))
        events = await run_to_end(runtime, "w-one", "hi")
        assert events[-1].event.to_dict()["result"] == "completed"
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        assert [w.worker_id for w in (await runtime.list_workers()).items] == ["w-one"]
        assert [d.code for d in await runtime.diagnostics()] == ["offline_model"]


async def test_an_input_refused_by_a_full_disk_leaves_the_worker_idle_and_the_next_one_runs(
    tmp_path: Path,
) -> None:
    disk = FullDisk()
    model = ScriptedModel([[Text("hello back")]])
    async with Runtime(store=FsStore(tmp_path, disk=disk), model=model) as runtime:
        await runtime.create_worker(CreateWorkerRequest(worker_id="w-one"))
        disk.room = 0
        with pytest.raises(StoreFull) as raised:
            await runtime.send_input("w-one", "refused")
        assert raised.value.code == "store_full"
        detail = await runtime.get_worker("w-one")
        assert (detail.status, detail.run, detail.queued_inputs) == (WorkerStatus.IDLE, None, 0)

        disk.room = None
        events = await run_to_end(runtime, "w-one", "hello")
        assert events[-1].event.to_dict()["result"] == "completed"
    model.assert_consumed()  # the refused input never reached the model

    async with Runtime(store=FsStore(tmp_path)) as runtime:
        detail = await runtime.get_worker("w-one")
        assert (detail.status, detail.runs) == (WorkerStatus.IDLE, 2)
        log = await all_events(runtime, "w-one")
        assert [e.seq for e in log] == list(range(1, len(log) + 1))  # closed cleanly: no gap
        refused, hello = (e.event for e in log if isinstance(e.event, InputAccepted))
        ends = [e.event for e in log if isinstance(e.event, RunFinished)]
        assert [(end.run_id, end.result) for end in ends] == [
            (refused.run_id, "failed"),
            (hello.run_id, "completed"),
        ]
        assert ends[0].error is not None
        assert ends[0].error["code"] == "store_full"
        statuses = [e.event.status for e in log if isinstance(e.event, StatusChanged)]
        assert statuses == ["running", "idle", "running", "idle"]
        page = await runtime.transcript("w-one")
        assert [(e.role, e.content) for e in page.items] == [
            (Role.USER, "refused"),
            (Role.USER, "hello"),
            (Role.ASSISTANT, "hello back"),
        ]
        assert [d.code for d in await runtime.diagnostics()] == ["offline_model"]


class GatedModel:
    """Streams a little, waits at a gate the test opens, then streams a long tail."""

    name = "scripted:gated"

    def __init__(self) -> None:
        self.streaming = asyncio.Event()
        self.gate = asyncio.Event()
        self.requests = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.requests += 1
        if self.requests > 1:
            yield TextChunk("again")
            return
        yield TextChunk("before ")
        self.streaming.set()
        await self.gate.wait()
        for n in range(500):
            yield TextChunk(f"w{n} ")


async def test_a_run_cut_off_by_a_full_disk_fails_as_store_full_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    disk = FullDisk()
    model = GatedModel()
    async with Runtime(store=FsStore(tmp_path, disk=disk), model=model) as runtime:
        await runtime.create_worker(CreateWorkerRequest(worker_id="w-one"))
        async with await runtime.subscribe("w-one") as subscription:
            await runtime.send_input("w-one", "long")
            async with asyncio.timeout(DEADLINE):
                await model.streaming.wait()
            disk.room = 0
            model.gate.set()
            events = await until(subscription, "status", count=2)
        finished = [e.event for e in events if isinstance(e.event, RunFinished)]
        assert [end.result for end in finished] == ["failed"]
        assert finished[0].error is not None
        assert finished[0].error["code"] == "store_full"
        assert events[-1].event == StatusChanged("idle")
        detail = await runtime.get_worker("w-one")
        assert (detail.status, detail.run) == (WorkerStatus.IDLE, None)

        disk.room = None
        again = await run_to_end(runtime, "w-one", "again")
        assert again[-1].event.to_dict()["result"] == "completed"
        before = await all_events(runtime, "w-one")

    async with Runtime(store=FsStore(tmp_path)) as runtime:
        assert await all_events(runtime, "w-one") == before  # memory and disk tell one story
        detail = await runtime.get_worker("w-one")
        assert (detail.status, detail.runs) == (WorkerStatus.IDLE, 2)
        page = await runtime.transcript("w-one")
        assert [(e.role, e.content) for e in page.items] == [
            (Role.USER, "long"),
            (Role.USER, "again"),
            (Role.ASSISTANT, "again"),
        ]


async def test_closing_on_a_still_full_disk_keeps_what_was_durable_and_the_seq_jumps(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([[Text("kept")]])
    async with Runtime(store=FsStore(tmp_path), model=model) as runtime:
        await runtime.create_worker(CreateWorkerRequest(worker_id="w-one"))
        await run_to_end(runtime, "w-one", "first")
    disk = FullDisk()
    async with Runtime(store=FsStore(tmp_path, disk=disk)) as runtime:
        durable = await all_events(runtime, "w-one")
        disk.room = 0
        with pytest.raises(StoreFull):
            await runtime.send_input("w-one", "never written")
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        assert await all_events(runtime, "w-one") == durable
        detail = await runtime.get_worker("w-one")
        assert detail.status is WorkerStatus.IDLE
        assert detail.last_seq == durable[-1].seq + RESTART_SEQ_GAP
        page = await runtime.transcript("w-one")
        assert [e.content for e in page.items] == ["first", "kept"]


RUNTIME = RuntimeRecord("rt-full", "full", 1.0)
WORKER = WorkerRecord("w-one", "one", AssistantIntent(), "builtin:default", 1.0)


class Appender:
    """Appends numbered events and transcript entries, and remembers them all."""

    def __init__(self, store: FsStore, text: str) -> None:
        self.store, self.text = store, text
        self.events: list[Event] = []
        self.entries: list[TranscriptEntry] = []

    def append(self, count: int) -> list[Awaitable[None]]:
        durable: list[Awaitable[None]] = []
        for _ in range(count):
            seq = len(self.events) + 1
            # Status changes now and then make checkpoints due, which the full disk refuses too.
            body = StatusChanged("running") if seq % 5 == 0 else TextDoneEvent("r1", self.text)
            entry = TranscriptEntry(len(self.entries) + 1, Role.ASSISTANT, self.text, 1.0, "r1")
            self.entries.append(entry)
            durable.append(self.store.append_transcript(WORKER.worker_id, [entry]))
            self.events.append(Event(seq, 1.0, WORKER.worker_id, body))
            durable.append(self.store.append_events(WORKER.worker_id, self.events[-1:]))
        return durable


async def through_a_full_disk(
    root: Path, room: int, counts: tuple[int, int, int], text: str
) -> None:
    disk = FullDisk()
    store = FsStore(root, limits=FsLimits(segment_bytes=300, checkpoint_events=4), disk=disk)
    await store.open(RUNTIME)
    await store.save_worker(WORKER)
    appender = Appender(store, text)
    for durable in appender.append(counts[0]):
        await durable
    disk.room = room
    for durable in appender.append(counts[1]):
        with contextlib.suppress(StoreFull):  # it depends on the room whether this one fits
            await durable
    disk.room = None
    appender.append(counts[2])
    await store.save_worker(WORKER)  # a flush, which writes what the full disk refused
    await store.close()

    reopened = FsStore(root)
    state = await reopened.open(RUNTIME)
    assert state.problems == ()
    (stored,) = state.workers
    assert stored.record.last_seq == len(appender.events)  # closed cleanly: no seq jump
    found = await reopened.read_events(WORKER.worker_id, 0, 10_000)
    assert list(found.events) == appender.events
    entries = await reopened.read_transcript(WORKER.worker_id, 1, 10_000)
    assert list(entries) == appender.entries
    await reopened.close()
    assert leftovers(root) == []


@settings(max_examples=60, deadline=None)
@given(
    room=st.integers(0, 3_000),
    counts=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(0, 12)),
    text=st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
)
def test_a_log_written_through_a_full_disk_holds_every_record_once_and_in_order(
    room: int, counts: tuple[int, int, int], text: str
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        scenario = through_a_full_disk(Path(directory), room, counts, text)
        asyncio.run(asyncio.wait_for(scenario, DEADLINE))


class BuggyDisk(FullDisk):
    """A disk seam that fails one fsync with something no disk raises: a bug in the store."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def fsync(self, fd: int) -> None:
        if self.broken:
            raise RuntimeError("a bug, not a disk error")
        super().fsync(fd)


async def test_a_writer_stopped_by_a_bug_fails_its_waiters_instead_of_hanging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    disk = BuggyDisk()
    store = FsStore(tmp_path, disk=disk)
    await store.open(RUNTIME)
    await store.save_worker(WORKER)
    appender = Appender(store, "hello")
    disk.broken = True
    async with asyncio.timeout(DEADLINE):
        waiting = asyncio.gather(*appender.append(1))
        with pytest.raises(StoreError, match="writer stopped"):
            await waiting
        with pytest.raises(StoreError, match="writer stopped"):
            appender.append(1)
    assert "the store's writer stopped" in caplog.text
