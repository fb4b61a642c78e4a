"""The fs store's writer: shared durability, write order, and interrupted creations."""

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from yoi.runtime import CreateWorkerRequest, FsStore, Runtime
from yoi.runtime.events import Event, TextDeltaEvent, WorkerCreated
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.requests import AssistantIntent
from yoi.runtime.stores.fs import CREATING_PREFIX

DEADLINE = 5.0


def record(worker_id: str) -> WorkerRecord:
    return WorkerRecord(worker_id, worker_id, AssistantIntent(), "builtin:default", 1.0)


def event(worker_id: str, seq: int) -> Event:
    body = WorkerCreated(worker_id, {}, "builtin:default") if seq == 1 else TextDeltaEvent("r", "x")
    return Event(seq, 1.0, worker_id, body)


async def test_a_cancelled_waiter_does_not_cancel_durability_for_the_others(tmp_path: Path) -> None:
    store = FsStore(tmp_path)
    await store.open(RuntimeRecord("rt-a", "a", 1.0))
    await store.save_worker(record("w-one"))
    await store.save_worker(record("w-two"))
    first = store.append_events("w-one", [event("w-one", 1)])
    second = store.append_events("w-two", [event("w-two", 1)])

    waiting = asyncio.Event()

    async def wait(durable: Awaitable[None]) -> None:
        waiting.set()  # it runs on to the await below before anything else runs
        await durable

    cancelled = asyncio.create_task(wait(first))
    await waiting.wait()
    cancelled.cancel()
    async with asyncio.timeout(DEADLINE):
        await second
        await store.append_events("w-one", [event("w-one", 2)])
        await store.close()
    assert cancelled.cancelled()
    reopened = FsStore(tmp_path)
    state = await reopened.open(RuntimeRecord("rt-a", "a", 1.0))
    assert {w.record.worker_id: w.record.last_seq for w in state.workers} == {
        "w-one": 2,
        "w-two": 1,
    }
    await reopened.close()


async def test_a_worker_creation_cut_short_by_a_crash_is_removed_at_open(tmp_path: Path) -> None:
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        kept = await runtime.create_worker(CreateWorkerRequest(worker_id="w-kept"))
    leftover = tmp_path / "workers" / f"{CREATING_PREFIX}w-lost"
    (leftover / "events").mkdir(parents=True)
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        page = await runtime.list_workers()
        assert [worker.worker_id for worker in page.items] == [kept.worker_id]
        assert [d.code for d in await runtime.diagnostics()] == ["offline_model"]
        await runtime.create_worker(CreateWorkerRequest(worker_id="w-lost"))
    assert not leftover.exists()
