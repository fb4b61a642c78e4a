"""One worker on disk: its checkpoint file, event log and transcript log.

Layout, under ``workers/<worker_id>/``::

    worker.json            checkpoint: identity, creation request, progress
    events/<seq>.jsonl     the event log, in segments named by their first seq
    transcript/<n>.jsonl   the transcript, in segments named by their first sequence
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from yoi.errors import StoreCorrupt, StoreMissing
from yoi.runtime.events import Event, RunFinished, StatusChanged, WorkerCreated
from yoi.runtime.records import WorkerRecord
from yoi.runtime.stores.codec import (
    BadRecord,
    decode_event,
    decode_identity,
    decode_transcript,
    encode_identity,
    is_delta,
    line_key,
)
from yoi.runtime.stores.fs.disk import Disk
from yoi.runtime.stores.fs.files import fsync_dir, write_atomic
from yoi.runtime.stores.fs.segments import IndexCache, SegmentLog, TailRepair
from yoi.runtime.stores.progress import Progress
from yoi.runtime.stores.protocol import StoredWorker
from yoi.runtime.transcript import TranscriptEntry

__all__ = ["CREATING_PREFIX", "RESTART_SEQ_GAP", "FsLimits", "WorkerFiles", "worker_ids"]

CREATING_PREFIX = ".creating-"
"""The prefix of a worker directory still being built; open removes such leftovers."""

RESTART_SEQ_GAP = 1_000
"""How far a worker's seq jumps after an unclean shutdown.

Subscribers may have seen events that were published but not yet durable when
the process died (the runner waits for durability every few dozen events).
Jumping past them means a seq is never given to two different events, and a
client that resumes with such a cursor misses nothing that happens next.
"""


@dataclass(frozen=True, slots=True)
class FsLimits:
    """How an fs store lays out and bounds its logs."""

    segment_bytes: int = 256 * 1024
    retain_event_bytes: int = 64 * 1024 * 1024
    """Event log bytes kept per worker; older whole segments are dropped. The transcript stays."""
    checkpoint_events: int = 1_000
    """At most this many events are replayed for a worker on open."""
    compact_deltas: bool = True
    """Drop the text and thinking deltas of finished runs from sealed segments."""


class WorkerFiles:
    """The files of one worker, and what the store knows of them in memory."""

    def __init__(
        self,
        runtime_id: str,
        identity: WorkerRecord,
        directory: Path,
        events: SegmentLog[Event],
        transcript: SegmentLog[TranscriptEntry],
        progress: Progress,
    ) -> None:
        self.runtime_id = runtime_id
        self.identity = identity
        self.directory = directory
        self.events = events
        self.transcript = transcript
        self.progress = progress
        self.checkpoint_seq = progress.last_seq
        self.transcript_last = 0
        """The transcript's durable end when the checkpoint was written; it may only grow."""
        self.boundary = False
        """A durable event since the last checkpoint changed the worker's status or runs."""

    @property
    def worker_id(self) -> str:
        return self.identity.worker_id

    # -- creating and loading -------------------------------------------------

    @classmethod
    def create(
        cls,
        root: Path,
        runtime_id: str,
        record: WorkerRecord,
        cache: IndexCache,
        limits: FsLimits,
        disk: Disk,
    ) -> WorkerFiles:
        """Make a new worker's directory and its first checkpoint, durably.

        The directory is built under a hidden name and renamed into place, so
        a crash leaves either a whole worker or a leftover that open removes.
        """
        workers = root / "workers"
        building = workers / f"{CREATING_PREFIX}{record.worker_id}"
        shutil.rmtree(building, ignore_errors=True)
        first = not workers.is_dir()
        files = cls._assemble(root, runtime_id, replace(record), cache, limits, Progress())
        try:
            (building / "events").mkdir(parents=True)
            (building / "transcript").mkdir()
            write_atomic(building / "worker.json", files.checkpoint(), disk)
        except OSError:
            shutil.rmtree(building, ignore_errors=True)  # a full disk keeps no half-built worker
            raise
        os.rename(building, files.directory)
        fsync_dir(workers)
        if first:
            fsync_dir(root)
        return files

    @classmethod
    def load(
        cls,
        root: Path,
        runtime_id: str,
        worker_id: str,
        cache: IndexCache,
        limits: FsLimits,
    ) -> tuple[WorkerFiles, list[TailRepair]]:
        """Open a worker's files, replaying the events after its checkpoint.

        Raises ``store_missing`` or ``store_corrupt`` naming the file and line
        when the worker cannot be used.
        """
        rel = f"workers/{worker_id}"
        raw = _read_checkpoint(root / rel / "worker.json", f"{rel}/worker.json")
        try:
            identity = decode_identity(raw, runtime_id, worker_id)
            progress = Progress.from_dict(_mapping(raw.get("progress")))
        except BadRecord as error:
            file = f"{rel}/worker.json"
            raise StoreCorrupt(f"{file} {error}", details={"file": file}) from None
        files = cls._assemble(root, runtime_id, identity, cache, limits, progress)
        files.transcript_last = _count(raw.get("transcript_last", 0), f"{rel}/worker.json")
        repairs = [repair for repair in files._recover() if repair is not None]
        files._replay()
        return files, repairs

    @classmethod
    def _assemble(
        cls,
        root: Path,
        runtime_id: str,
        identity: WorkerRecord,
        cache: IndexCache,
        limits: FsLimits,
        progress: Progress,
    ) -> WorkerFiles:
        worker_id = identity.worker_id
        rel = f"workers/{worker_id}"
        directory = root / rel
        events = SegmentLog[Event](
            directory / "events",
            f"{rel}/events",
            partial(decode_event, worker_id=worker_id),
            cache,
            limits.segment_bytes,
        )
        transcript = SegmentLog[TranscriptEntry](
            directory / "transcript",
            f"{rel}/transcript",
            partial(decode_transcript, worker_id=worker_id),
            cache,
            limits.segment_bytes,
        )
        return cls(runtime_id, identity, directory, events, transcript, progress)

    def _recover(self) -> list[TailRepair | None]:
        repairs: list[TailRepair | None] = []
        for log in (self.events, self.transcript):
            if not log.directory.is_dir():
                raise StoreMissing(f"{log.rel} is missing", details={"file": log.rel})
            repairs.append(log.recover())
        return repairs

    def _replay(self) -> None:
        """Bring the checkpoint's progress up to the end of the durable event log."""
        if self.transcript.durable_last < self.transcript_last:
            raise StoreMissing(
                f"{self.transcript.rel} ends at entry {self.transcript.durable_last}, "
                f"before the checkpoint's entry {self.transcript_last}",
                details={"file": self.transcript.rel},
            )
        if self.events.durable_last < self.progress.last_seq:
            raise StoreMissing(
                f"{self.events.rel} ends at seq {self.events.durable_last}, "
                f"before the checkpoint's seq {self.progress.last_seq}",
                details={"file": self.events.rel},
            )
        if self.events.durable_last == self.progress.last_seq:
            return  # closed cleanly, or checkpointed just before the end: nothing to replay
        for rel, number, line in self.events.lines_after(self.progress.last_seq):
            if is_delta(line):  # counts for nothing but its seq: skip the decoding
                self.progress.last_seq = line_key(line)
            else:
                self.apply(self.events.decode_line(rel, number, line))

    def stored(self, *, clean: bool) -> StoredWorker:
        """The worker for the runtime; after an unclean stop its seq jumps ahead."""
        stored = self.progress.stored(replace(self.identity))
        stored.record.transcript_total = self.transcript.durable_last
        if not clean:
            stored.record.last_seq += RESTART_SEQ_GAP
        return stored

    # -- progress and checkpoints -------------------------------------------

    def apply(self, event: Event) -> None:
        self.progress.apply(event)
        if isinstance(event.event, StatusChanged | RunFinished | WorkerCreated):
            self.boundary = True

    def checkpoint_due(self, every: int) -> bool:
        behind = self.progress.last_seq - self.checkpoint_seq
        return behind > 0 and (self.boundary or behind >= every)

    def checkpoint(self) -> bytes:
        """The checkpoint for the durable state; mark it written with :meth:`checkpointed`."""
        body = encode_identity(self.runtime_id, self.identity)
        body["progress"] = self.progress.to_dict()
        body["transcript_last"] = self.transcript.durable_last
        return json.dumps(body, ensure_ascii=False, indent=1).encode() + b"\n"

    def write_checkpoint_sync(self, data: bytes, disk: Disk) -> None:
        write_atomic(self.directory / "worker.json", data, disk)

    def checkpointed(self, seq: int) -> None:
        self.checkpoint_seq = seq
        self.boundary = False


def _read_checkpoint(path: Path, rel: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoreMissing(f"{rel} is missing", details={"file": rel}) from None
    except OSError as error:
        message = f"{rel} cannot be read: {error.strerror}"
        raise StoreCorrupt(message, details={"file": rel}) from None
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        line = getattr(error, "lineno", 0)
        raise StoreCorrupt(
            f"{rel} line {line} is not valid JSON", details={"file": rel, "line": line}
        ) from None
    if not isinstance(raw, dict):
        raise StoreCorrupt(f"{rel} is not a JSON object", details={"file": rel})
    return raw


def _count(value: object, rel: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StoreCorrupt(f"{rel} has no valid transcript_last", details={"file": rel})
    return value


def _mapping(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRecord("has no progress")
    return value


def worker_ids(root: Path) -> list[str]:
    """The names of the entries under ``workers/``, unvalidated."""
    directory = root / "workers"
    if not directory.is_dir():
        return []
    names: list[str] = []
    for entry in os.scandir(directory):
        if entry.name.startswith(CREATING_PREFIX):
            shutil.rmtree(entry.path, ignore_errors=True)  # a creation a crash cut short
        else:
            names.append(entry.name)
    return sorted(names)
