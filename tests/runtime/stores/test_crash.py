"""A process test: a real runtime process killed with SIGKILL while it takes inputs and streams.

Each lineage is one store root restarted again and again: a child process
(``crash_child.py``) feeds two workers until the test has read a seeded number
of its acks, then it is killed. The store is then opened in this process and
must hold everything the child acknowledged, with seqs that never repeat, the
run that was cut off ended as ``interrupted``, and workers that take new work.

An acknowledged input that was queued gets no transcript entry until it runs.
It survives the crash: the restart runs every queued input that had not
started, in the order they were accepted, and only then is the worker idle.
So every acknowledged input ends up in the transcript.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
from tests.runtime.stores.crash_child import RUNTIME_ID, WORKERS

from yoi.engine import ModelChunk, ModelRequest
from yoi.runtime import Event, Role, Runtime, TranscriptEntry, WorkerStatus
from yoi.runtime.events import InputAccepted, RunFinished, RunStarted
from yoi.runtime.stores import FsStore
from yoi.runtime.stores.fs import RESTART_SEQ_GAP
from yoi.testing import ScriptedModel, Text, run_to_end
from yoi.testing.observe import until_idle

CHILD = Path(__file__).with_name("crash_child.py")
LINEAGES = 5
RESTARTS = 10
DEADLINE = 10.0
PAGE = 500


@dataclass(frozen=True, slots=True)
class Ack:
    worker_id: str
    content: str
    run_id: str
    event_seq: int
    transcript_sequence: int | None

    @classmethod
    def parse(cls, line: bytes) -> Ack | None:
        """The ack on an ``ACK`` line; None for a ``SEND`` line."""
        kind, *fields = line.decode().split()
        if kind == "SEND":
            return None
        assert kind == "ACK", line
        worker_id, content, run_id, seq, sequence = fields
        return cls(worker_id, content, run_id, int(seq), None if sequence == "-" else int(sequence))


@dataclass(slots=True)
class Lineage:
    """What one store root has been through: every ack, and where each worker's log stood."""

    root: Path
    acks: list[Ack]
    marks: dict[str, int]


@pytest.mark.parametrize("lineage", range(LINEAGES))
async def test_sigkilled_runtime_keeps_every_ack(tmp_path: Path, lineage: int) -> None:
    state = Lineage(tmp_path / "store", [], dict.fromkeys(WORKERS, 0))
    for seed in range(lineage * RESTARTS, (lineage + 1) * RESTARTS):
        try:
            state.acks.extend(await crash(state.root, seed))
            await check_restart(state, seed)
        except AssertionError as error:
            error.add_note(f"crash iteration seed={seed}, store root {state.root}")
            raise


async def crash(root: Path, seed: int) -> list[Ack]:
    """Run the child until it has acknowledged a seeded number of inputs, then SIGKILL it.

    A few more lines are read first, also seeded: killed right after a ``SEND``
    line, the child dies while that input is being accepted.
    """
    rng = random.Random(seed)
    wanted, extra = rng.randint(1, 15), rng.randint(0, 3)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, str(CHILD), str(root), str(seed)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    acks: list[Ack] = []
    reached = False
    try:
        async with asyncio.timeout(DEADLINE):
            reached = await read_acks(process.stdout, acks, wanted, extra)
    except TimeoutError:
        pass  # reported below, with what the child wrote to stderr
    finally:
        if process.returncode is None:
            process.kill()
        async with asyncio.timeout(DEADLINE):
            rest, errors = await process.communicate()
    problem = errors.decode() or "(nothing on stderr)"
    assert process.returncode == -signal.SIGKILL, f"the child ended by itself: {problem}"
    assert reached, f"the child stalled: {len(acks)} of {wanted} acks in {DEADLINE} s; {problem}"
    # Whatever the child printed before it died was acknowledged too.
    complete = rest.split(b"\n")[:-1]
    return acks + [ack for line in complete if (ack := Ack.parse(line)) is not None]


async def read_acks(stream: asyncio.StreamReader, acks: list[Ack], wanted: int, extra: int) -> bool:
    """Read lines into ``acks`` until ``wanted`` acks and ``extra`` more lines; False at EOF."""
    while len(acks) < wanted or extra > 0:
        line = await stream.readline()
        if not line:
            return False
        if len(acks) >= wanted:
            extra -= 1
        if (ack := Ack.parse(line)) is not None:
            acks.append(ack)
    return True


class Answering:
    """Answers every request, however many queued inputs a restart runs again."""

    name = "scripted:after"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        async for chunk in ScriptedModel([[Text("back again")]]).stream(request):
            yield chunk


async def check_restart(state: Lineage, seed: int) -> None:
    model = Answering()
    async with Runtime(store=FsStore(state.root), runtime_id=RUNTIME_ID, model=model) as runtime:
        problems = await runtime.diagnostics()
        assert {problem.code for problem in problems} <= {"store_repaired"}, problems
        for worker_id in WORKERS:
            await until_idle(runtime, worker_id, deadline=DEADLINE)
            detail = await runtime.get_worker(worker_id)
            assert (detail.status, detail.queued_inputs) == (WorkerStatus.IDLE, 0)
            after = await run_to_end(runtime, worker_id, f"after crash {seed}")
            match after[0].event, after[-1].event:
                case InputAccepted(queued=False), RunFinished(result="completed", error=None):
                    pass
                case other:
                    raise AssertionError(f"new work did not run to completion: {other}")
            events = await read_log(runtime, worker_id)
            check_seqs(events)
            check_recovery(events, state.marks[worker_id], resumed=after[0].seq)
            check_runs(events)
            transcript = await read_transcript(runtime, worker_id)
            acks = [ack for ack in state.acks if ack.worker_id == worker_id]
            check_acks(acks, events, transcript)
            state.marks[worker_id] = after[-1].seq


async def read_log(runtime: Runtime, worker_id: str) -> list[Event]:
    events: list[Event] = []
    cursor: str | None = None
    while True:
        page = await runtime.events(worker_id, after=cursor, limit=PAGE)
        events.extend(page.events)
        if not page.events:
            return events
        cursor = page.next_cursor


async def read_transcript(runtime: Runtime, worker_id: str) -> list[TranscriptEntry]:
    entries: list[TranscriptEntry] = []
    start: int | None = 1
    while start is not None:
        page = await runtime.transcript(worker_id, start, PAGE)
        entries.extend(page.items)
        start = page.next_start
    assert [entry.sequence for entry in entries] == list(range(1, len(entries) + 1))
    return entries


def check_seqs(events: list[Event]) -> None:
    seqs = [event.seq for event in events]
    repeated = [seq for seq, count in Counter(seqs).items() if count > 1]
    assert not repeated, f"seqs given to more than one event: {repeated}"
    backwards = [(a, b) for a, b in pairwise(seqs) if b <= a]
    assert not backwards, f"seqs that do not increase: {backwards}"


def check_recovery(events: list[Event], mark: int, *, resumed: int) -> None:
    """The restart jumped the seq ahead once, ended the run in flight, and ran the queue.

    ``mark`` is the seq of the last event this test saw before the child ran,
    and ``resumed`` the seq of the first input sent after the restart. The
    child opened a cleanly closed store, so the only jump past
    ``RESTART_SEQ_GAP`` in between is this restart's. (Compaction drops deltas
    from the log, but never a thousand in a row: replies are shorter.)
    """
    fresh = [event.seq for event in events if mark < event.seq <= resumed]
    gaps = [i for i, (a, b) in enumerate(pairwise([mark, *fresh])) if b - a > RESTART_SEQ_GAP]
    assert len(gaps) == 1, f"{len(gaps)} restart gaps after seq {mark}, not 1: {fresh[-5:]}"
    boundary = next(i for i, event in enumerate(events) if event.seq == fresh[gaps[0]])
    before = events[:boundary]
    restored = [event for event in events[boundary:] if event.seq < resumed]
    active, queued = open_runs(before)
    interrupted: list[str] = []
    started: list[str] = []
    completed: list[str] = []
    for event in restored:
        match event.event:
            case RunFinished(run_id=run_id, result="failed", error={"code": "interrupted"}):
                interrupted.append(run_id)
            case RunFinished(run_id=run_id, result="completed"):
                completed.append(run_id)
            case RunFinished() as other:
                raise AssertionError(f"a run ended unexpectedly while restoring: {other}")
            case RunStarted(run_id=run_id):
                started.append(run_id)
            case InputAccepted() as other:
                raise AssertionError(f"an input was accepted while restoring: {other}")
    assert interrupted == active, "the restore must interrupt exactly the run in flight"
    assert started == completed == queued, "the restore must run the queued inputs, in order"


def open_runs(events: list[Event]) -> tuple[list[str], list[str]]:
    """The run in flight and the queued runs, as the log tells them."""
    active: list[str] = []
    queued: list[str] = []
    for event in events:
        match event.event:
            case InputAccepted(run_id=run_id, queued=True):
                queued.append(run_id)
            case InputAccepted(run_id=run_id, queued=False) | RunStarted(run_id=run_id):
                if run_id in queued:
                    queued.remove(run_id)
                active = [run_id]
            case RunFinished(run_id=run_id):
                if run_id in active:
                    active = []
                elif run_id in queued:
                    queued.remove(run_id)
    return active, queued


def check_acks(acks: list[Ack], events: list[Event], transcript: list[TranscriptEntry]) -> None:
    by_seq = {event.seq: event.event for event in events}
    started = {event.event.run_id for event in events if isinstance(event.event, RunStarted)}
    by_sequence = {e.sequence: (e.role, e.run_id, e.content) for e in transcript}
    users = {(e.run_id, e.content) for e in transcript if e.role is Role.USER}
    finished = {
        event.event.run_id: event.event for event in events if isinstance(event.event, RunFinished)
    }
    for ack in acks:
        queued = ack.transcript_sequence is None
        accepted = InputAccepted(ack.run_id, ack.content, queued, ack.transcript_sequence)
        assert by_seq.get(ack.event_seq) == accepted, f"{ack} is not in the log"
        if ack.transcript_sequence is not None:
            entry = by_sequence.get(ack.transcript_sequence)
            assert entry == (Role.USER, ack.run_id, ack.content), f"{ack} is not in the transcript"
        else:
            assert ack.run_id in started, (
                f"queued {ack} never ran; it ended {finished.get(ack.run_id)}"
            )
            assert (ack.run_id, ack.content) in users, f"{ack} ran but is not in the transcript"
    contents = Counter(entry.content for entry in transcript if entry.role is Role.USER)
    assert [content for content, count in contents.items() if count > 1] == []


def check_runs(events: list[Event]) -> None:
    """Every accepted input's run ends exactly once, after it was accepted and started;
    queued inputs start in the order they were accepted, across restarts too."""
    accepted: dict[str, int] = {}
    queued: list[str] = []
    started: dict[str, int] = {}
    finished: dict[str, list[int]] = {}
    for event in events:
        match event.event:
            case InputAccepted(run_id=run_id, queued=in_line):
                assert run_id not in accepted, f"run {run_id} accepted twice"
                accepted[run_id] = event.seq
                if in_line:
                    queued.append(run_id)
            case RunStarted(run_id=run_id):
                assert run_id not in started, f"run {run_id} started twice"
                started[run_id] = event.seq
            case RunFinished(run_id=run_id):
                finished.setdefault(run_id, []).append(event.seq)
    for run_id, seq in accepted.items():
        ends = finished.get(run_id, [])
        assert len(ends) == 1, f"run {run_id} finished {len(ends)} times"
        assert ends[0] > started.get(run_id, seq) >= seq
    assert set(finished) <= set(accepted)
    assert sorted(queued, key=lambda run_id: started[run_id]) == queued, "queue order broken"
