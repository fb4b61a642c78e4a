"""Torn writes, corruption and missing files in a real fs store, and the root lock.

Every fixture is a store that the real runtime wrote (two workers, a few runs
each, a clean close), damaged on disk the way a crash, a bad disk or a careless
person would, then opened by a new runtime.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from yoi.errors import (
    DuplicateWorker,
    StoreCorrupt,
    StoreLocked,
    StoreMissing,
    WorkerUnavailable,
    YoiError,
)
from yoi.runtime import CreateWorkerRequest, Runtime
from yoi.runtime.events import RunFinished
from yoi.runtime.stores import FsLimits, FsStore
from yoi.runtime.views import Diagnostic
from yoi.testing import ScriptedModel, Text, run_to_end
from yoi.testing.observe import all_events

ALPHA = "alpha"
BETA = "beta"
RUNS = 3
SMALL = FsLimits(segment_bytes=200)
"""Two transcript entries to a segment, so a worker's transcript spans several files."""


# -- building and opening stores ---------------------------------------------


def said(worker_id: str) -> list[str]:
    """What a worker's transcript holds after :func:`build`, in order."""
    return [
        text
        for n in range(RUNS)
        for text in (f"question {n} for {worker_id}", f"answer {n} for {worker_id}")
    ]


async def build(root: Path, limits: FsLimits | None = None) -> None:
    """A real store: two workers with a few completed runs each, closed cleanly."""
    answers = [f"answer {n} for {w}" for n in range(RUNS) for w in (ALPHA, BETA)]
    model = ScriptedModel([[Text(answer)] for answer in answers])
    async with Runtime(store=FsStore(root, limits=limits), model=model) as runtime:
        for worker_id in (ALPHA, BETA):
            await runtime.create_worker(CreateWorkerRequest(worker_id=worker_id))
        for n in range(RUNS):
            for worker_id in (ALPHA, BETA):
                await run_to_end(runtime, worker_id, f"question {n} for {worker_id}")
    model.assert_consumed()


def reopen(root: Path, *answers: str, limits: FsLimits | None = None) -> Runtime:
    model = ScriptedModel([[Text(answer)] for answer in answers])
    return Runtime(store=FsStore(root, limits=limits), model=model)


@pytest.fixture
async def root(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    await build(store)
    return store


@pytest.fixture
async def small_root(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    await build(store, SMALL)
    return store


# -- damaging files ---------------------------------------------------------------


def segments(root: Path, worker_id: str, log: str) -> list[Path]:
    return sorted((root / "workers" / worker_id / log).iterdir())


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def put_line(path: Path, number: int, content: bytes) -> None:
    """Replace line ``number`` (from 1) with ``content``, keeping its newline."""
    found = lines(path)
    found[number - 1] = content + b"\n"
    path.write_bytes(b"".join(found))


def files_under(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` and its bytes, to show that nothing was rewritten."""
    return {
        rel(directory, path): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# -- what the runtime reports -------------------------------------------------------


async def problems(runtime: Runtime, code: str) -> list[Diagnostic]:
    return [found for found in await runtime.diagnostics() if found.code == code]


async def only_problem(runtime: Runtime, code: str, worker_id: str | None) -> str:
    """The one diagnostic of ``code``, which must concern ``worker_id``; returns its message."""
    found = await problems(runtime, code)
    assert [item.worker_id for item in found] == [worker_id], found
    return found[0].message


async def unavailable(runtime: Runtime, worker_id: str, cause: str) -> WorkerUnavailable:
    with pytest.raises(WorkerUnavailable) as caught:
        await runtime.send_input(worker_id, "are you there?")
    assert caught.value.code == "worker_unavailable"
    assert caught.value.details == {"worker_id": worker_id, "cause": cause}
    with pytest.raises(WorkerUnavailable):
        await runtime.get_worker(worker_id)
    with pytest.raises(WorkerUnavailable):
        await runtime.transcript(worker_id)
    with pytest.raises(WorkerUnavailable):
        await runtime.events(worker_id)
    return caught.value


async def works(runtime: Runtime, worker_id: str, question: str = "still there?") -> None:
    events = await run_to_end(runtime, worker_id, question)
    finished = events[-1].event
    assert isinstance(finished, RunFinished)
    assert finished.result == "completed"


async def read_whole(runtime: Runtime, worker_id: str, log: str) -> None:
    if log == "events":
        await all_events(runtime, worker_id)
    else:
        await runtime.transcript(worker_id, limit=500)


async def private(root: Path, runtime: Runtime, *errors: YoiError) -> None:
    """No message or detail names the store root: paths in them are relative to it."""
    texts = [item.message for item in await runtime.diagnostics()]
    texts += [f"{error.message} {error.details}" for error in errors]
    for text in texts:
        assert str(root) not in text
        assert str(root.parent) not in text


# -- torn writes -----------------------------------------------------------------

TORN = {
    "events": (23, b'{"seq":23,"at":1.5,"worker_id":"alpha","event":{"type":"sta'),
    "transcript": (7, b'{"seq":7,"worker_id":"alpha","role":"user","con'),
}


@pytest.mark.parametrize("fresh", [False, True], ids=["in_a_segment", "alone_in_a_new_segment"])
@pytest.mark.parametrize("log", ["events", "transcript"])
async def test_a_torn_last_line_is_cut_off_reported_and_later_appends_are_correct(
    tmp_path: Path, log: str, fresh: bool
) -> None:
    root = tmp_path / "store"
    limits = SMALL if fresh else None
    await build(root, limits)
    key, torn = TORN[log]
    segment = segments(root, ALPHA, log)[-1]
    if fresh:  # the crash came as the first line of a new segment was being written
        assert segment.stat().st_size >= SMALL.segment_bytes
        segment = segment.with_name(f"{key:012d}.jsonl")
        segment.touch()
    whole = segment.read_bytes()
    with segment.open("ab") as file:
        file.write(torn)
    (root / "CLEAN").unlink()  # the crash that tore the line never shut down cleanly

    async with reopen(root, "recovered", limits=limits) as runtime:
        message = await only_problem(runtime, "store_repaired", ALPHA)
        line = whole.count(b"\n") + 1
        assert message.startswith(f"{rel(root, segment)} line {line}: ")
        assert f"({len(torn)} bytes)" in message
        assert segment.read_bytes() == whole
        await works(runtime, ALPHA, "after the crash?")
        await private(root, runtime)

    async with reopen(root, limits=limits) as runtime:
        assert await runtime.diagnostics() == []
        events = await all_events(runtime, ALPHA)
        seqs = [event.seq for event in events]
        assert seqs == sorted(set(seqs))
        finished = [event.event for event in events if isinstance(event.event, RunFinished)]
        assert [item.result for item in finished] == ["completed"] * (RUNS + 1)
        page = await runtime.transcript(ALPHA, limit=500)
        assert [entry.sequence for entry in page.items] == list(range(1, 2 * RUNS + 3))
        assert [entry.content for entry in page.items] == [
            *said(ALPHA),
            "after the crash?",
            "recovered",
        ]
    for path in segments(root, ALPHA, log):
        data = path.read_bytes()
        assert data.endswith(b"\n")
        assert all(json.loads(item)["worker_id"] == ALPHA for item in data.splitlines())


# -- unparsable records in the middle of a log -----------------------------------------

GARBAGE: dict[str, Callable[[bytes], bytes]] = {
    "same_length": lambda line: b"#" * len(line),
    "not_json": lambda line: line[: line.index(b",") + 1] + b"oops",
    "wrong_shape": lambda line: line[: line.index(b",") + 1] + b'"at":"noon"}',
}


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@pytest.mark.parametrize(("log", "number"), [("events", 5), ("transcript", 3)])
async def test_a_bad_record_in_the_middle_of_a_log_is_reported_when_read(
    root: Path, log: str, number: int, garbage: str
) -> None:
    segment = segments(root, ALPHA, log)[0]
    line = lines(segment)[number - 1].rstrip(b"\n")
    put_line(segment, number, GARBAGE[garbage](line))
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        with pytest.raises(StoreCorrupt) as caught:
            await read_whole(runtime, ALPHA, log)
        error = caught.value
        assert error.code == "store_corrupt"
        assert error.details == {"file": rel(root, segment), "line": number}
        assert error.message.startswith(f"{rel(root, segment)} line {number} ")
        assert await only_problem(runtime, "store_corrupt", ALPHA) == error.message
        refused = await unavailable(runtime, ALPHA, "store_corrupt")
        assert rel(root, segment) in refused.message
        await works(runtime, BETA)
        await private(root, runtime, error, refused)
    assert files_under(root / "workers" / ALPHA) == damaged


async def test_a_bad_transcript_record_found_by_the_first_input_makes_the_worker_unavailable(
    root: Path,
) -> None:
    segment = segments(root, ALPHA, "transcript")[0]
    put_line(segment, 2, b"not a record")
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        with pytest.raises(StoreCorrupt) as caught:
            await runtime.send_input(ALPHA, "hello again")
        assert caught.value.details == {"file": rel(root, segment), "line": 2}
        await unavailable(runtime, ALPHA, "store_corrupt")
        await works(runtime, BETA)
    assert files_under(root / "workers" / ALPHA) == damaged


# -- a bad last line: found at open ---------------------------------------------------


@pytest.mark.parametrize("log", ["events", "transcript"])
async def test_a_complete_but_garbage_last_line_makes_the_worker_unavailable_at_open(
    root: Path, log: str
) -> None:
    segment = segments(root, ALPHA, log)[-1]
    count = len(lines(segment))
    put_line(segment, count, b"x" * (len(lines(segment)[-1]) - 1))
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        message = await only_problem(runtime, "store_corrupt", ALPHA)
        assert message.startswith(f"{rel(root, segment)} line {count} ")
        refused = await unavailable(runtime, ALPHA, "store_corrupt")
        assert message in refused.message
        with pytest.raises(DuplicateWorker):
            await runtime.create_worker(CreateWorkerRequest(worker_id=ALPHA))
        await works(runtime, BETA)
        assert [w.worker_id for w in (await runtime.list_workers()).items] == [BETA]
        await private(root, runtime, refused)
    assert files_under(root / "workers" / ALPHA) == damaged


# -- records that belong to another worker or runtime -------------------------------


def _other_worker_last_event(root: Path) -> Path:
    segment = segments(root, ALPHA, "events")[-1]
    last = lines(segment)[-1].rstrip(b"\n")
    put_line(
        segment, len(lines(segment)), last.replace(b'"worker_id":"alpha"', b'"worker_id":"beta"')
    )
    return segment


def _other_worker_last_transcript_entry(root: Path) -> Path:
    segment = segments(root, ALPHA, "transcript")[-1]
    theirs = lines(segments(root, BETA, "transcript")[-1])[-1].rstrip(b"\n")
    put_line(segment, len(lines(segment)), theirs)
    return segment


@pytest.mark.parametrize("damage", [_other_worker_last_event, _other_worker_last_transcript_entry])
async def test_a_last_record_of_another_worker_makes_the_worker_unavailable_at_open(
    root: Path, damage: Callable[[Path], Path]
) -> None:
    segment = damage(root)
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        message = await only_problem(runtime, "store_corrupt", ALPHA)
        count = len(lines(segment))
        assert message == f"{rel(root, segment)} line {count} belongs to worker 'beta', not alpha"
        await unavailable(runtime, ALPHA, "store_corrupt")
        await works(runtime, BETA)
        await private(root, runtime)
    assert files_under(root / "workers" / ALPHA) == damaged


async def test_an_event_of_another_worker_in_the_middle_of_a_log_is_reported_when_read(
    root: Path,
) -> None:
    segment = segments(root, ALPHA, "events")[0]
    theirs = lines(segments(root, BETA, "events")[0])[4].rstrip(b"\n")
    assert theirs.startswith(b'{"seq":5,')
    put_line(segment, 5, theirs)
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        with pytest.raises(StoreCorrupt) as caught:
            await runtime.events(ALPHA, limit=500)
        assert caught.value.details == {"file": rel(root, segment), "line": 5}
        assert caught.value.message.endswith("belongs to worker 'beta', not alpha")
        await unavailable(runtime, ALPHA, "store_corrupt")
        await works(runtime, BETA)
    assert files_under(root / "workers" / ALPHA) == damaged


@pytest.mark.parametrize(("field", "value"), [("runtime_id", "rtother"), ("worker_id", BETA)])
async def test_a_checkpoint_of_another_runtime_or_worker_makes_the_worker_unavailable(
    root: Path, field: str, value: str
) -> None:
    checkpoint = root / "workers" / ALPHA / "worker.json"
    body = json.loads(checkpoint.read_bytes())
    body[field] = value
    checkpoint.write_text(json.dumps(body, indent=1) + "\n")
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        message = await only_problem(runtime, "store_corrupt", ALPHA)
        kind = field.removesuffix("_id")
        assert message.startswith(f"workers/alpha/worker.json belongs to {kind} '{value}'")
        await unavailable(runtime, ALPHA, "store_corrupt")
        await works(runtime, BETA)
        await private(root, runtime)
    assert files_under(root / "workers" / ALPHA) == damaged


# -- missing files -------------------------------------------------------------------


async def test_a_missing_checkpoint_makes_the_worker_unavailable_and_is_not_recreated(
    root: Path,
) -> None:
    (root / "workers" / ALPHA / "worker.json").unlink()
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        message = await only_problem(runtime, "store_missing", ALPHA)
        assert message == "workers/alpha/worker.json is missing"
        await unavailable(runtime, ALPHA, "store_missing")
        await works(runtime, BETA)
        await private(root, runtime)
    assert files_under(root / "workers" / ALPHA) == damaged


@pytest.mark.parametrize("log", ["events", "transcript"])
async def test_a_missing_log_directory_makes_the_worker_unavailable(root: Path, log: str) -> None:
    shutil.rmtree(root / "workers" / ALPHA / log)
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine") as runtime:
        message = await only_problem(runtime, "store_missing", ALPHA)
        assert message == f"workers/alpha/{log} is missing"
        await unavailable(runtime, ALPHA, "store_missing")
        await works(runtime, BETA)
    assert files_under(root / "workers" / ALPHA) == damaged
    assert not (root / "workers" / ALPHA / log).exists()


async def test_a_transcript_segment_missing_from_the_middle_is_reported_when_read(
    small_root: Path,
) -> None:
    root = small_root
    first, middle, last = segments(root, ALPHA, "transcript")
    middle.unlink()
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine", limits=SMALL) as runtime:
        after = await runtime.transcript(ALPHA, start=5)
        assert [entry.content for entry in after.items] == said(ALPHA)[4:]
        with pytest.raises(StoreMissing) as caught:
            await runtime.transcript(ALPHA, limit=500)
        error = caught.value
        assert error.code == "store_missing"
        assert error.details == {"file": "workers/alpha/transcript"}
        assert "entries 3 to 4 are missing" in error.message
        assert await only_problem(runtime, "store_missing", ALPHA) == error.message
        await unavailable(runtime, ALPHA, "store_missing")
        await works(runtime, BETA)
        await private(root, runtime, error)
    assert files_under(root / "workers" / ALPHA) == damaged
    assert first.exists()
    assert last.exists()


async def test_a_missing_last_transcript_segment_is_not_silently_dropped(
    small_root: Path,
) -> None:
    """Found at open or on the first read; never new entries reusing the lost sequences."""
    root = small_root
    segments(root, ALPHA, "transcript")[-1].unlink()

    async with reopen(root, "beta is fine", limits=SMALL) as runtime:
        if not await problems(runtime, "store_missing"):
            with pytest.raises(StoreMissing):
                await runtime.transcript(ALPHA, limit=500)
        message = await only_problem(runtime, "store_missing", ALPHA)
        assert "workers/alpha/transcript" in message
        await unavailable(runtime, ALPHA, "store_missing")
        await works(runtime, BETA)


async def test_a_missing_last_events_segment_makes_the_worker_unavailable_at_open(
    small_root: Path,
) -> None:
    root = small_root
    segments(root, ALPHA, "events")[-1].unlink()
    damaged = files_under(root / "workers" / ALPHA)

    async with reopen(root, "beta is fine", limits=SMALL) as runtime:
        found = [item for item in await runtime.diagnostics() if item.worker_id == ALPHA]
        assert [item.code for item in found] in (["store_missing"], ["store_corrupt"])
        assert found[0].message.startswith("workers/alpha/events")
        await unavailable(runtime, ALPHA, found[0].code)
        await works(runtime, BETA)
    assert files_under(root / "workers" / ALPHA) == damaged


async def test_a_segment_deleted_while_the_runtime_runs_is_reported_missing(
    small_root: Path,
) -> None:
    root = small_root
    async with reopen(root, "beta is fine", limits=SMALL) as runtime:
        doomed = segments(root, ALPHA, "transcript")[0]
        doomed.unlink()
        with pytest.raises(StoreMissing) as caught:
            await runtime.transcript(ALPHA, limit=500)
        assert caught.value.details["file"] == rel(root, doomed)
        await unavailable(runtime, ALPHA, "store_missing")
        await works(runtime, BETA)


async def test_a_missing_runtime_record_with_workers_stops_the_whole_runtime(root: Path) -> None:
    (root / "runtime.json").unlink()
    before = files_under(root / "workers")

    for _ in range(2):  # the failed open let go of the root: the second one fails the same way
        runtime = reopen(root)
        with pytest.raises(StoreMissing) as caught:
            await runtime.open()
        assert caught.value.code == "store_missing"
        assert caught.value.details == {"file": "runtime.json"}
        assert caught.value.message == "runtime.json is missing, but the store holds workers"
    assert not (root / "runtime.json").exists()
    assert files_under(root / "workers") == before


async def test_an_unreadable_runtime_record_stops_the_whole_runtime(root: Path) -> None:
    (root / "runtime.json").write_bytes(b"{not json\n")

    runtime = reopen(root)
    with pytest.raises(StoreCorrupt) as caught:
        await runtime.open()
    assert caught.value.details == {"file": "runtime.json"}
    assert (root / "runtime.json").read_bytes() == b"{not json\n"
    assert str(root) not in caught.value.message


# -- stray directories ---------------------------------------------------------------


async def test_a_directory_not_named_by_a_worker_id_is_reported_and_left_alone(
    root: Path,
) -> None:
    stray = root / "workers" / "Old Alpha"
    shutil.copytree(root / "workers" / ALPHA, stray)
    kept = files_under(stray)

    async with reopen(root, "alpha is fine", "beta is fine") as runtime:
        message = await only_problem(runtime, "store_corrupt", None)
        assert message == "workers/Old Alpha is not named by a worker id"
        page = await runtime.list_workers()
        assert [worker.worker_id for worker in page.items] == [ALPHA, BETA]
        await works(runtime, ALPHA)
        await works(runtime, BETA)
        await private(root, runtime)
    assert files_under(stray) == kept


async def test_a_file_among_the_worker_directories_is_reported_and_left_alone(
    root: Path,
) -> None:
    stray = root / "workers" / "notes.txt"
    stray.write_bytes(b"remember to back up\n")

    async with reopen(root, "alpha is fine", "beta is fine") as runtime:
        found = await problems(runtime, "store_corrupt")
        assert len(found) == 1
        assert found[0].message.startswith("workers/notes.txt")
        page = await runtime.list_workers()
        assert [worker.worker_id for worker in page.items] == [ALPHA, BETA]
        await works(runtime, ALPHA)
        await works(runtime, BETA)
        await private(root, runtime)
    assert stray.read_bytes() == b"remember to back up\n"


# -- the root lock ---------------------------------------------------------------------

HOLDER = """
import asyncio, sys
from yoi.runtime.records import RuntimeRecord
from yoi.runtime.stores import FsStore

async def hold() -> None:
    await FsStore(sys.argv[1]).open(RuntimeRecord("rtholder", "holder", 0.0))
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)

asyncio.run(hold())
"""


async def test_a_root_held_by_another_process_is_refused_until_that_process_dies(
    root: Path,
) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(root),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        async with asyncio.timeout(10):
            ready = await holder.stdout.readline()
        assert ready == b"ready\n"

        async with asyncio.timeout(1):  # refused at once, never waiting for the lock
            with pytest.raises(StoreLocked) as caught:
                await reopen(root).open()
        assert caught.value.code == "store_locked"
        assert "in use by another runtime process" in caught.value.message
        assert str(root) not in caught.value.message
    finally:
        holder.kill()
        await holder.communicate()

    async with reopen(root, "alpha is fine") as runtime:
        assert await runtime.diagnostics() == []
        await works(runtime, ALPHA)


async def test_a_root_open_in_this_process_is_refused_to_a_second_runtime(root: Path) -> None:
    async with reopen(root, "beta is fine") as first:
        with pytest.raises(StoreLocked):
            await reopen(root).open()
        await works(first, BETA)
    async with reopen(root) as again:
        assert await again.diagnostics() == []
