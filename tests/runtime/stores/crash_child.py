"""A runtime process for the crash test: it takes inputs and streams runs until it is killed.

Usage: ``python crash_child.py ROOT SEED``.

It opens the fs store at ROOT and keeps two workers busy, each fed by its own
task with inputs that are started, queued or interrupt the run in flight. It
writes one line to stdout per step, flushed at once, and nothing else::

    SEND <worker_id> <content>
    ACK <worker_id> <content> <run_id> <event_seq> <transcript_sequence or ->

An ``ACK`` line is written only once ``send_input`` returned, that is once the
store made the input durable, so the parent may kill the process at any moment
after reading one.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator

from yoi.engine.model import ModelChunk, ModelRequest
from yoi.errors import SlowConsumer, WorkerBusy, WorkerNotFound
from yoi.providers.script import Step
from yoi.runtime import CreateWorkerRequest, Input, OnBusy, Runtime, RuntimeLimits
from yoi.runtime.events import Snapshot, StatusChanged
from yoi.runtime.stores import FsStore
from yoi.testing import ScriptedModel, Text, Think, Usage

RUNTIME_ID = "rt-crash"
WORKERS = ("w-crash-a", "w-crash-b")
MAX_INPUTS = 100_000
MODES = (OnBusy.ENQUEUE, OnBusy.INTERRUPT, OnBusy.REJECT)
WEIGHTS = (6, 3, 1)


class EndlessModel:
    """Answers every request with a fresh seeded turn of many small chunks; it never runs out."""

    name = "scripted:crash"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def _turn(self) -> list[Step]:
        turn: list[Step] = []
        if self._rng.random() < 0.3:
            turn.append(Think(*(f"hm{n} " for n in range(self._rng.randint(5, 40)))))
        count = self._rng.randint(50, 300)
        turn.append(Text(*(f"w{n} " for n in range(count))))
        turn.append(Usage(10, count))
        return turn

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        async for chunk in ScriptedModel([self._turn()]).stream(request):
            yield chunk


def say(*parts: str) -> None:
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


async def ensure_worker(runtime: Runtime, worker_id: str) -> None:
    try:
        await runtime.get_worker(worker_id)
    except WorkerNotFound:
        await runtime.create_worker(CreateWorkerRequest(worker_id=worker_id))


async def until_idle(runtime: Runtime, worker_id: str) -> None:
    while True:
        try:
            async with await runtime.subscribe(worker_id) as subscription:
                async for event in subscription:
                    match event.event:
                        case Snapshot(worker={"status": "idle"}) | StatusChanged(status="idle"):
                            return
        except SlowConsumer:
            continue


async def feed(runtime: Runtime, worker_id: str, seed: int) -> None:
    rng = random.Random(f"{seed}-{worker_id}")
    for number in range(MAX_INPUTS):
        content = f"s{seed}-{worker_id}-i{number}"
        on_busy = rng.choices(MODES, WEIGHTS)[0]
        say("SEND", worker_id, content)
        while True:
            try:
                ack = await runtime.send_input(worker_id, Input(content, on_busy))
                break
            except WorkerBusy:
                await until_idle(runtime, worker_id)
        sequence = "-" if ack.transcript_sequence is None else str(ack.transcript_sequence)
        say("ACK", worker_id, content, ack.run_id, str(ack.event_seq), sequence)
        if rng.random() < 0.15:
            await until_idle(runtime, worker_id)


async def main(root: str, seed: int) -> None:
    model = EndlessModel(random.Random(seed))
    limits = RuntimeLimits(max_queued_inputs=3)
    store = FsStore(root)
    async with Runtime(store=store, runtime_id=RUNTIME_ID, model=model, limits=limits) as runtime:
        for worker_id in WORKERS:
            await ensure_worker(runtime, worker_id)
        async with asyncio.TaskGroup() as group:
            for worker_id in WORKERS:
                group.create_task(feed(runtime, worker_id, seed))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
