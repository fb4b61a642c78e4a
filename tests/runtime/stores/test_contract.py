"""The Store protocol, held to one contract by every store.

Each test runs against a :class:`MemoryStore` and an :class:`FsStore`. To
"reopen", a test closes the store and opens what the factory makes next: the
same instance for memory, a new store on the same root for fs.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from yoi.errors import InvalidRequest
from yoi.runtime.events import (
    Event,
    EventBody,
    InputAccepted,
    RunFinished,
    RunStarted,
    StatusChanged,
    TextDeltaEvent,
    TextDoneEvent,
    UsageEvent,
    WorkerCreated,
)
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.requests import TaskIntent
from yoi.runtime.status import WorkerStatus
from yoi.runtime.stores import FsStore, MemoryStore, QueuedInput, Store, StoredState, StoredWorker
from yoi.runtime.stores.fs import RESTART_SEQ_GAP
from yoi.runtime.transcript import Role, ToolEntry, TranscriptEntry

RUNTIME = RuntimeRecord("rt-home", "home", 1_700_000_000.25)
W = "w-one"


@dataclass
class Stores:
    """Makes the store under test; ``make`` again after ``close`` is a reopen."""

    kind: str
    make: Callable[[], Store]
    opened: list[Store] = field(default_factory=list)

    async def open(
        self, runtime: RuntimeRecord = RUNTIME, *, id_requested: bool = False
    ) -> tuple[Store, StoredState]:
        store = self.make()
        self.opened.append(store)
        return store, await store.open(runtime, id_requested=id_requested)

    async def reopen(self, store: Store) -> tuple[Store, StoredState]:
        await store.close()
        return await self.open()


@pytest.fixture(params=["memory", "fs"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "memory":
        memory = MemoryStore()
        made = Stores("memory", lambda: memory)
    else:
        made = Stores("fs", lambda: FsStore(tmp_path / "store"))
    yield made
    for store in made.opened:
        await store.close()


def record(worker_id: str = W, created_at: float = 1_700_000_001.5) -> WorkerRecord:
    return WorkerRecord(
        worker_id=worker_id,
        display_name=f"{worker_id} the scribe",
        intent=TaskIntent("keep notes"),
        profile="builtin:default",
        created_at=created_at,
    )


def events(first: int, *bodies: EventBody, worker_id: str = W) -> list[Event]:
    return [Event(first + n, 1_700_000_100.0 + n, worker_id, body) for n, body in enumerate(bodies)]


def entries(first: int, count: int) -> list[TranscriptEntry]:
    made = []
    for sequence in range(first, first + count):
        match sequence % 3:
            case 1:
                made.append(TranscriptEntry(sequence, Role.USER, f"question {sequence}", 5.0))
            case 2:
                tool = ToolEntry(f"c{sequence}", "upper", result=True, summary="upper-cased")
                made.append(TranscriptEntry(sequence, Role.TOOL, "OK", 6.0, "r1", tool))
            case _:
                made.append(TranscriptEntry(sequence, Role.ASSISTANT, f"answer {sequence}", 7.0))
    return made


def deltas(first: int, count: int) -> list[Event]:
    return events(first, *(TextDeltaEvent("r1", f"d{n} ") for n in range(count)))


# A finished run (r1), then r2 running with r3 and r4 queued and r4 cancelled.
HISTORY: tuple[EventBody, ...] = (
    WorkerCreated("w-one the scribe", {"kind": "task", "objective": "keep notes"}, "default"),
    InputAccepted("r1", "first", False, 1),
    StatusChanged("running"),
    RunStarted("r1", "scripted:test"),
    UsageEvent("r1", 10, 3),
    TextDoneEvent("r1", "hello"),
    RunFinished("r1", "completed"),
    StatusChanged("idle"),
    InputAccepted("r2", "second", False, 3),
    StatusChanged("running"),
    RunStarted("r2", "scripted:test"),
    UsageEvent("r2", 4, 1),
    InputAccepted("r3", "third", True, None),
    InputAccepted("r4", "fourth", True, None),
    RunFinished("r4", "cancelled", {"code": "cancelled", "message": "cancelled"}),
)


async def test_open_on_nothing_creates_the_fresh_runtime(stores: Stores) -> None:
    _, state = await stores.open()
    assert state == StoredState(RUNTIME)


async def test_appended_events_read_back_in_order(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    written = [*events(1, *HISTORY), *deltas(len(HISTORY) + 1, 20)]
    for start in range(0, len(written), 7):
        await store.append_events(W, written[start : start + 7])

    everything = await store.read_events(W, 0, 1_000)
    assert everything.events == tuple(written)
    assert everything.first_retained == 1
    assert (await store.read_events(W, 5, 3)).events == tuple(written[5:8])
    assert (await store.read_events(W, 30, 100)).events == tuple(written[30:])
    assert (await store.read_events(W, len(written), 10)).events == ()
    assert (await store.read_events(W, 3, 0)).events == ()


async def test_a_worker_without_events_retains_from_seq_one(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    empty = await store.read_events(W, 0, 10)
    assert (empty.events, empty.first_retained) == ((), 1)
    assert await store.read_transcript(W, 1, 10) == ()


async def test_reads_see_appends_before_they_are_durable(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    first = events(1, *HISTORY[:3])
    durable = store.append_events(W, first)
    entry_durable = store.append_transcript(W, entries(1, 2))
    assert (await store.read_events(W, 0, 10)).events == tuple(first)
    assert await store.read_transcript(W, 1, 10) == tuple(entries(1, 2))

    later = events(4, *HISTORY[3:6])
    also_durable = store.append_events(W, later)
    assert (await store.read_events(W, 2, 10)).events == (first[2], *later)
    await durable
    await entry_durable
    await also_durable
    assert (await store.read_events(W, 0, 10)).events == (*first, *later)


async def test_transcript_pages_start_at_a_sequence(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    written = entries(1, 40)
    for start in range(0, 40, 9):
        await store.append_transcript(W, written[start : start + 9])

    assert await store.read_transcript(W, 1, 100) == tuple(written)
    assert await store.read_transcript(W, 17, 5) == tuple(written[16:21])
    assert await store.read_transcript(W, 38, 10) == tuple(written[37:])
    assert await store.read_transcript(W, 41, 10) == ()
    pages = [await store.read_transcript(W, start, 6) for start in range(1, 41, 6)]
    assert [entry for page in pages for entry in page] == written


async def test_workers_keep_separate_logs(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    await store.save_worker(record("w-two", created_at=1_700_000_002.0))
    mine = events(1, *HISTORY[:4])
    theirs = events(1, *HISTORY[:2], worker_id="w-two")
    await store.append_events(W, mine)
    await store.append_events("w-two", theirs)
    await store.append_transcript("w-two", entries(1, 3))

    assert (await store.read_events(W, 0, 10)).events == tuple(mine)
    assert (await store.read_events("w-two", 0, 10)).events == tuple(theirs)
    assert await store.read_transcript(W, 1, 10) == ()
    assert len(await store.read_transcript("w-two", 1, 10)) == 3


async def test_reopen_restores_workers_their_counters_and_open_runs(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    await store.save_worker(record("w-two", created_at=1_700_000_002.0))
    await store.append_events(W, events(1, *HISTORY))
    await store.append_transcript(W, entries(1, 3))
    await store.append_events("w-two", events(1, *HISTORY[:2], worker_id="w-two"))

    store, state = await stores.reopen(store)

    assert state.runtime == RUNTIME
    assert state.problems == ()
    one, two = state.workers
    expected = record()
    expected.status = WorkerStatus.RUNNING
    expected.last_seq = len(HISTORY)
    expected.transcript_total = 3
    expected.runs = 1
    expected.usage = {"input_tokens": 14, "output_tokens": 4}
    assert one == StoredWorker(expected, active_run="r2", queued=(QueuedInput("r3", "third"),))
    assert two.record.worker_id == "w-two"
    assert (two.active_run, two.queued, two.record.runs) == ("r1", (), 0)
    assert (await store.read_events(W, 0, 100)).events == tuple(events(1, *HISTORY))
    assert await store.read_transcript(W, 1, 10) == tuple(entries(1, 3))


async def test_a_reopened_store_takes_more_records_and_derives_runs_from_them(
    stores: Stores,
) -> None:
    store, _ = await stores.open()
    await store.save_worker(record())
    await store.append_events(W, events(1, *HISTORY))
    store, _ = await stores.reopen(store)

    more = events(
        len(HISTORY) + 1,
        RunFinished("r2", "completed"),
        RunStarted("r3", "scripted:test"),  # a queued input starts without a new input_accepted
        InputAccepted("r5", "fifth", True, None),
    )
    await store.append_events(W, more)
    await store.append_transcript(W, entries(1, 2))
    assert (await store.read_events(W, len(HISTORY), 10)).events == tuple(more)

    store, state = await stores.reopen(store)
    (worker,) = state.workers
    assert (worker.active_run, worker.queued) == ("r3", (QueuedInput("r5", "fifth"),))
    assert (worker.record.runs, worker.record.last_seq) == (2, len(HISTORY) + 3)
    assert worker.record.status is WorkerStatus.RUNNING

    finished = events(len(HISTORY) + 4, RunFinished("r3", "failed"), RunFinished("r5", "failed"))
    await store.append_events(W, [*finished, *events(len(HISTORY) + 6, StatusChanged("idle"))])
    _, state = await stores.reopen(store)
    (worker,) = state.workers
    assert (worker.active_run, worker.queued) == (None, ())
    assert (worker.record.runs, worker.record.status) == (3, WorkerStatus.IDLE)


async def test_a_stored_runtime_keeps_its_identity(stores: Stores) -> None:
    store, _ = await stores.open()
    await store.close()
    other = RuntimeRecord("rt-other", "other", 5.0)

    store, state = await stores.open(other)
    assert state.runtime == RUNTIME
    await store.close()
    with pytest.raises(InvalidRequest):
        await stores.open(other, id_requested=True)
    store, state = await stores.open(RUNTIME, id_requested=True)
    assert state.runtime == RUNTIME


async def test_bundles_are_kept_by_digest(stores: Stores) -> None:
    store, _ = await stores.open()
    content = b'{"profile":"coder"}'
    digest = hashlib.sha256(content).hexdigest()
    await store.save_bundle(digest, content)
    _, state = await stores.reopen(store)
    assert state.bundles == {digest: content}


@pytest.mark.parametrize(
    "digest",
    ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61, "0" * 60 + ".txt"],
)
async def test_a_bundle_digest_must_be_64_lowercase_hex(stores: Stores, digest: str) -> None:
    store, _ = await stores.open()
    with pytest.raises(InvalidRequest):
        await store.save_bundle(digest, b"{}")
    _, state = await stores.reopen(store)
    assert state.bundles == {}


# -- fs only: durability across a process that dies -------------------------------

_CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from yoi.runtime.events import Event, InputAccepted, RunStarted, StatusChanged, TextDeltaEvent
    from yoi.runtime.records import RuntimeRecord, WorkerRecord
    from yoi.runtime.requests import TaskIntent
    from yoi.runtime.stores import FsStore
    from yoi.runtime.transcript import Role, TranscriptEntry

    async def main() -> None:
        store = FsStore(sys.argv[1])
        await store.open(RuntimeRecord("rt-home", "home", 1.0))
        worker = WorkerRecord("w-one", "scribe", TaskIntent("keep notes"), "builtin:default", 2.0)
        await store.save_worker(worker)
        bodies = [
            InputAccepted("r1", "go", False, 1),
            StatusChanged("running"),
            RunStarted("r1", "scripted:test"),
            *(TextDeltaEvent("r1", f"d{n}") for n in range(20)),
            InputAccepted("r2", "next", True, None),
        ]
        for seq, body in enumerate(bodies, start=1):
            await store.append_events("w-one", [Event(seq, 3.0, "w-one", body)])
        await store.append_transcript("w-one", [TranscriptEntry(1, Role.USER, "go", 3.0, "r1")])
        print(len(bodies), flush=True)
        os._exit(0)  # no close: the process dies with the root open

    asyncio.run(main())
    """
)


async def test_awaited_appends_survive_a_process_that_dies_and_the_seq_jumps(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(root),
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, _ = await child.communicate()
    assert child.returncode == 0
    written = int(out)
    assert not (root / "CLEAN").exists()

    store = FsStore(root)
    state = await store.open(RuntimeRecord("rt-new", "new", 9.0))
    try:
        (worker,) = state.workers
        assert worker.record.last_seq == written + RESTART_SEQ_GAP
        assert (worker.active_run, worker.queued) == ("r1", (QueuedInput("r2", "next"),))
        assert worker.record.transcript_total == 1
        stored = await store.read_events("w-one", 0, 100)
        assert [event.seq for event in stored.events] == list(range(1, written + 1))

        resumed = events(worker.record.last_seq + 1, RunFinished("r1", "failed"), worker_id="w-one")
        await store.append_events("w-one", resumed)
        assert (await store.read_events("w-one", written, 10)).events == tuple(resumed)
    finally:
        await store.close()

    again = FsStore(root)
    state = await again.open(RUNTIME)
    await again.close()
    assert state.workers[0].record.last_seq == written + RESTART_SEQ_GAP + 1  # clean: no jump
