"""A store on the filesystem that survives restarts, crashes and corruption.

Layout under the root::

    .lock                  held (flock) by the one process that has the root open
    runtime.json           the runtime's identity
    CLEAN                  present only while the root is closed after a clean shutdown
    bundles/<digest>.json  config bundles, by the SHA-256 of their canonical encoding
    workers/<worker_id>/   see :mod:`yoi.runtime.stores.fs.worker_files`

Appends are buffered and written by one writer task: every buffered line of
every worker goes out in one batch, each file is fsynced, then the batch's
waiters are released (group commit). Everything ``append_*`` returns resolves
only once its records are durable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from pathlib import Path
from typing import Any

from yoi.errors import InvalidRequest, StoreCorrupt, StoreError, StoreMissing
from yoi.ids import validate_id
from yoi.runtime.bundles import check_digest
from yoi.runtime.events import Event
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.stores.codec import encode_event, encode_transcript
from yoi.runtime.stores.fs.disk import Disk, OsDisk, store_failure
from yoi.runtime.stores.fs.files import RootLock, fsync_dir, write_atomic
from yoi.runtime.stores.fs.maintenance import maintain
from yoi.runtime.stores.fs.segments import IndexCache, PlannedWrite, SegmentLog, TailRepair
from yoi.runtime.stores.fs.worker_files import FsLimits, WorkerFiles, worker_ids
from yoi.runtime.stores.protocol import EventSlice, StoredState, StoredWorker, StoreProblem
from yoi.runtime.transcript import TranscriptEntry

__all__ = ["FsStore"]

log = logging.getLogger(__name__)
_WRITER_STOPPED = "the store's writer stopped; restart the runtime"

_FORMAT = 1
_WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="yoi-fs-write")


class FsStore:
    """Keeps a runtime durably under ``root``; one process at a time may open a root."""

    kind = "fs"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        limits: FsLimits | None = None,
        disk: Disk | None = None,
    ) -> None:
        self.root = Path(root)
        self.limits = limits or FsLimits()
        self._disk: Disk = disk if disk is not None else OsDisk()
        self._lock = RootLock(self.root)
        self._cache = IndexCache()
        self._runtime: RuntimeRecord | None = None
        self._workers: dict[str, WorkerFiles] = {}
        self._dirty: set[SegmentLog[Any]] = set()
        self._owners: dict[int, WorkerFiles] = {}
        self._wake = asyncio.Event()
        self._next_flush: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    # -- opening and closing ----------------------------------------------------

    async def open(self, runtime: RuntimeRecord, *, id_requested: bool = False) -> StoredState:
        if self._runtime is not None:
            raise StoreError("this store is already open")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the store root: {error.strerror}") from error
        self._lock.acquire()
        try:
            state = await asyncio.to_thread(self._load, runtime, id_requested)
        except OSError as error:
            self._lock.release()
            raise store_failure(error, "cannot open the store") from None
        except BaseException:
            self._lock.release()
            raise
        self._runtime = state.runtime
        self._writer = asyncio.create_task(self._write_loop(), name="yoi-fs-store-writer")
        self._writer.add_done_callback(self._writer_ended)
        return state

    def _writer_ended(self, writer: asyncio.Task[None]) -> None:
        """A writer that died of a bug fails its waiters, and every later append, instead of
        leaving them waiting for a durability that never comes."""
        if writer.cancelled() or writer.exception() is None:
            return
        log.error("the store's writer stopped", exc_info=writer.exception())
        if self._next_flush is not None:
            _settle(self._next_flush, StoreError(_WRITER_STOPPED))
            self._next_flush = None

    def _load(self, fresh: RuntimeRecord, id_requested: bool) -> StoredState:
        runtime = self._load_runtime(fresh, id_requested)
        clean = (self.root / "CLEAN").exists()
        if clean:
            (self.root / "CLEAN").unlink()
            fsync_dir(self.root)
        workers: list[StoredWorker] = []
        problems: list[StoreProblem] = []
        for name in worker_ids(self.root):
            loaded = self._load_worker(runtime.runtime_id, name, clean, problems)
            if loaded is not None:
                workers.append(loaded)
        workers.sort(key=lambda item: (item.record.created_at, item.record.worker_id))
        bundles = self._load_bundles(problems)
        return StoredState(runtime, tuple(workers), tuple(problems), bundles)

    def _load_runtime(self, fresh: RuntimeRecord, id_requested: bool) -> RuntimeRecord:
        path = self.root / "runtime.json"
        if not path.exists():
            if worker_ids(self.root):
                raise StoreMissing(
                    "runtime.json is missing, but the store holds workers",
                    details={"file": "runtime.json"},
                )
            body = {"format": _FORMAT, **_runtime_dict(fresh)}
            write_atomic(path, json.dumps(body, indent=1).encode() + b"\n", self._disk)
            return fresh
        stored = _read_runtime(path)
        if id_requested and stored.runtime_id != fresh.runtime_id:
            raise InvalidRequest(
                f"this store holds runtime {stored.runtime_id}, not {fresh.runtime_id}",
                details={"runtime_id": fresh.runtime_id},
            )
        return stored

    def _load_worker(
        self, runtime_id: str, name: str, clean: bool, problems: list[StoreProblem]
    ) -> StoredWorker | None:
        try:
            worker_id = validate_id(name, field="worker_id")
        except InvalidRequest:
            problems.append(
                StoreProblem("store_corrupt", f"workers/{name} is not named by a worker id")
            )
            return None
        try:
            files, repairs = WorkerFiles.load(
                self.root, runtime_id, worker_id, self._cache, self.limits
            )
        except (StoreCorrupt, StoreMissing) as error:
            problems.append(StoreProblem(error.code, error.message, worker_id))
            return None
        except OSError as error:
            message = f"workers/{worker_id} cannot be read: {error.strerror}"
            problems.append(StoreProblem("store_corrupt", message, worker_id))
            return None
        problems.extend(_repaired(repair, worker_id) for repair in repairs)
        self._register(files)
        return files.stored(clean=clean)

    def _load_bundles(self, problems: list[StoreProblem]) -> dict[str, bytes]:
        directory = self.root / "bundles"
        if not directory.is_dir():
            return {}
        found: dict[str, bytes] = {}
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.endswith(".json") or entry.name.startswith("."):
                    continue
                try:
                    found[entry.name.removesuffix(".json")] = Path(entry.path).read_bytes()
                except OSError as error:
                    message = f"bundles/{entry.name} cannot be read: {error.strerror}"
                    problems.append(StoreProblem("store_corrupt", message))
        return found

    async def close(self) -> None:
        if self._writer is None:
            return
        self._closing = True
        self._wake.set()
        await self._writer
        self._writer = None
        due = [
            (files, files.checkpoint(), files.progress.last_seq)
            for files in self._workers.values()
            if files.checkpoint_seq < files.progress.last_seq
        ]
        try:
            await asyncio.to_thread(self._finish, due)
        finally:
            self._lock.release()

    def _finish(self, due: list[tuple[WorkerFiles, bytes, int]]) -> None:
        _write_checkpoints(due, self._disk)  # one that fails is made up for by replay at open
        lost = any(log.buffered for files in self._workers.values() for log in _logs(files))
        if lost:
            return  # not clean: subscribers saw events the disk never took
        try:
            (self.root / "CLEAN").touch()
            fsync_dir(self.root)
        except OSError as error:
            log.warning("the store closed but could not be marked clean: %s", error.strerror)

    # -- writing ---------------------------------------------------------------

    async def save_worker(self, record: WorkerRecord) -> None:
        files = self._workers.get(record.worker_id)
        if files is None:
            runtime = self._open_runtime()
            try:
                files = await asyncio.to_thread(
                    WorkerFiles.create,
                    self.root,
                    runtime.runtime_id,
                    record,
                    self._cache,
                    self.limits,
                    self._disk,
                )
            except OSError as error:
                raise store_failure(error, "cannot create the worker's files") from None
            self._register(files)
            return
        if any(log.buffered for log in _logs(files)):
            await self._flush_soon()

    def append_events(self, worker_id: str, events: Sequence[Event]) -> Awaitable[None]:
        log = self._files(worker_id).events
        for event in events:
            log.append(event.seq, event, encode_event(event))
        return self._mark(log)

    def append_transcript(
        self, worker_id: str, entries: Sequence[TranscriptEntry]
    ) -> Awaitable[None]:
        log = self._files(worker_id).transcript
        for entry in entries:
            log.append(entry.sequence, entry, encode_transcript(entry, worker_id))
        return self._mark(log)

    async def save_bundle(self, digest: str, content: bytes) -> None:
        name = check_digest(digest)
        directory = self.root / "bundles"

        def write() -> None:
            if not directory.is_dir():
                directory.mkdir()
                fsync_dir(self.root)
            write_atomic(directory / f"{name}.json", content, self._disk)

        try:
            await asyncio.to_thread(write)
        except OSError as error:
            raise store_failure(error, "cannot save the config bundle") from None

    def _mark(self, log: SegmentLog[Any]) -> Awaitable[None]:
        self._dirty.add(log)
        return self._flush_soon()

    def _flush_soon(self) -> Durable:
        if self._writer is None:
            raise StoreError("the store is not open")
        if self._writer.done():
            raise StoreError(_WRITER_STOPPED)
        if self._next_flush is None:
            self._next_flush = asyncio.get_running_loop().create_future()
        self._wake.set()
        return Durable(self._next_flush)

    async def _write_loop(self) -> None:
        """Write batches as appends wake it.

        After a failed batch its records stay buffered and their logs dirty;
        the next flush anyone asks for writes them again, so nothing is lost
        or reordered while the disk is full, and the store needs no restart
        once it has room. Closing makes one last attempt.
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            written = True
            if self._dirty:
                written = await self._write_batch()
            elif self._next_flush is not None:
                _settle(self._next_flush, None)
                self._next_flush = None
            if self._closing and (not written or not self._dirty):
                if self._next_flush is not None:
                    lost = StoreError("the store closed before these records could be written")
                    _settle(self._next_flush, lost)
                    self._next_flush = None
                return

    async def _write_batch(self) -> bool:
        done, self._next_flush = self._next_flush, None
        planned: list[tuple[SegmentLog[Any], PlannedWrite]] = []
        for log in self._dirty:
            write = log.plan()
            if write is not None:
                planned.append((log, write))
        self._dirty.clear()
        # Transcripts go first: a durable event then implies that every transcript
        # entry appended before it is durable too (an input_accepted never points
        # at a lost entry, and no entry sequence is handed out twice).
        stages = (
            [write for log, write in planned if log is not self._owners[id(log)].events],
            [write for log, write in planned if log is self._owners[id(log)].events],
        )
        try:
            await asyncio.to_thread(_run_stages, stages, self._disk)
        except OSError as error:
            for log, _ in planned:
                log.fail()
                self._dirty.add(log)
            _settle(done, store_failure(error, "cannot write to the store"))
            return False
        except BaseException:
            _settle(done, StoreError(_WRITER_STOPPED))
            raise
        touched: dict[int, WorkerFiles] = {}
        for log, write in planned:
            committed = log.commit(write)
            files = self._owners[id(log)]
            touched[id(files)] = files
            if log is files.events:
                for event in committed:
                    files.apply(event)
        _settle(done, None)
        await self._after_write(list(touched.values()))
        return True

    async def _after_write(self, touched: list[WorkerFiles]) -> None:
        """Checkpoints and maintenance: a failure here loses nothing, they are tried again later."""
        every = self.limits.checkpoint_events
        due = [files for files in touched if files.checkpoint_due(every)]
        if due:
            snapshots = [(files, files.checkpoint(), files.progress.last_seq) for files in due]
            for files, seq in await asyncio.to_thread(_write_checkpoints, snapshots, self._disk):
                files.checkpointed(seq)
        for files in touched:
            try:
                await maintain(files, self.limits, self._disk)
            except OSError as error:
                log.warning("maintenance of %s put off: %s", files.worker_id, error.strerror)

    # -- reading ---------------------------------------------------------------

    async def read_events(self, worker_id: str, after: int, limit: int) -> EventSlice:
        log = self._files(worker_id).events
        events = log.read(after, limit)
        return EventSlice(tuple(events), log.first_retained)

    async def read_transcript(
        self, worker_id: str, start: int, limit: int
    ) -> tuple[TranscriptEntry, ...]:
        log = self._files(worker_id).transcript
        entries = log.read(start - 1, limit)
        for expected, entry in enumerate(entries, start=max(start, 1)):
            if entry.sequence != expected:
                raise StoreMissing(
                    f"{log.rel}: transcript entries {expected} to {entry.sequence - 1} are missing",
                    details={"file": log.rel},
                )
        return tuple(entries)

    # -- internals ---------------------------------------------------------------

    def _register(self, files: WorkerFiles) -> None:
        self._workers[files.worker_id] = files
        for log in _logs(files):
            self._owners[id(log)] = files

    def _files(self, worker_id: str) -> WorkerFiles:
        files = self._workers.get(worker_id)
        if files is None:
            raise StoreError(f"worker {worker_id} is not in this store")
        return files

    def _open_runtime(self) -> RuntimeRecord:
        if self._runtime is None or self._writer is None:
            raise StoreError("the store is not open")
        return self._runtime


def _logs(files: WorkerFiles) -> tuple[SegmentLog[Any], ...]:
    return (files.events, files.transcript)


def _run_stages(stages: tuple[list[PlannedWrite], ...], disk: Disk) -> None:
    """Write and fsync each stage's files, one stage after the other.

    The files of a stage are fsynced concurrently: the filesystem folds
    concurrent fsyncs into shared journal commits.
    """
    for writes in stages:
        if len(writes) == 1:
            writes[0].run(disk)
        elif writes:
            for done in wait_all([_WRITERS.submit(write.run, disk) for write in writes]).done:
                done.result()  # the first OSError, if any, fails the batch


def _settle(done: asyncio.Future[None] | None, failure: StoreError | None) -> None:
    if done is None or done.done():
        return
    if failure is None:
        done.set_result(None)
    else:
        done.set_exception(failure)
        done.exception()  # retrieved: whoever awaits it still gets the error


class Durable:
    """What an append returns: awaiting it waits until the append is durable.

    Every append of a batch shares one future; each await shields it, so a
    waiter that is cancelled (an interrupted run) never cancels it for the rest.
    """

    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, None]:
        return asyncio.shield(self._future).__await__()


def _write_checkpoints(
    snapshots: list[tuple[WorkerFiles, bytes, int]], disk: Disk
) -> list[tuple[WorkerFiles, int]]:
    """Write what it can; returns the checkpoints written, with their seqs."""
    written: list[tuple[WorkerFiles, int]] = []
    for files, data, seq in snapshots:
        try:
            files.write_checkpoint_sync(data, disk)
        except OSError as error:
            log.warning("checkpoint of %s put off: %s", files.worker_id, error.strerror)
            continue
        written.append((files, seq))
    return written


def _runtime_dict(record: RuntimeRecord) -> dict[str, object]:
    return {
        "runtime_id": record.runtime_id,
        "display_name": record.display_name,
        "created_at": record.created_at,
    }


def _read_runtime(path: Path) -> RuntimeRecord:
    try:
        raw = json.loads(path.read_bytes())
        return RuntimeRecord(
            validate_id(raw["runtime_id"], field="runtime_id"),
            str(raw["display_name"]),
            float(raw["created_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError, InvalidRequest) as error:
        raise StoreCorrupt(
            f"runtime.json is not a runtime record ({type(error).__name__})",
            details={"file": "runtime.json"},
        ) from None


def _repaired(repair: TailRepair, worker_id: str) -> StoreProblem:
    message = (
        f"{repair.file} line {repair.line}: a partial last line ({repair.dropped_bytes} bytes) "
        "left by a crash was cut off"
    )
    return StoreProblem("store_repaired", message, worker_id)
