"""What the fs store benchmarks share: scratch roots, counted fsyncs, and stored histories.

Roots are built through the store's own API (``save_worker``, ``append_events``,
``append_transcript``), with the records a runtime writes for a streamed reply,
in a child process: the parent then measures in a fresh process state, and the
child can die without closing the store, as a crashed runtime does.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from yoi.runtime.events import (
    Event,
    EventBody,
    InputAccepted,
    RunFinished,
    RunStarted,
    StatusChanged,
    TextDeltaEvent,
    TextDoneEvent,
    WorkerCreated,
)
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.requests import AssistantIntent
from yoi.runtime.transcript import Role, TranscriptEntry

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = [
    "RUNTIME",
    "FsyncCount",
    "StoredHistory",
    "counting_fsyncs",
    "evict",
    "in_child",
    "scratch_root",
    "worker_record",
]

EPOCH = 1_780_000_000.0
RUNTIME = RuntimeRecord("rt-bench", "bench", EPOCH)
PROFILE = "builtin:default"
MODEL = "bench:chunks"
_WORDS = ("The ", "store ", "keeps ", "every ", "event ", "durably, ", "in ", "order. ")
_PROMPT = "Carry on with the next step of the plan and say what changed. " * 3


@contextmanager
def scratch_root() -> Iterator[Path]:
    """A store root in a new temporary directory, removed with everything in it afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="yoi-bench-"))
    try:
        yield directory / "root"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass(slots=True)
class FsyncCount:
    files: int = 0
    directories: int = 0

    @property
    def total(self) -> int:
        return self.files + self.directories


@contextmanager
def counting_fsyncs() -> Iterator[FsyncCount]:
    """Count every ``os.fsync`` this process makes meanwhile, whichever thread makes it.

    The store calls ``os.fsync`` through the ``os`` module, so replacing the
    attribute sees each real call; it is put back on exit.
    """
    count = FsyncCount()
    lock = threading.Lock()
    real = os.fsync

    def fsync(fd: FileDescriptorLike) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        directory = stat.S_ISDIR(os.fstat(number).st_mode)
        real(fd)
        with lock:
            if directory:
                count.directories += 1
            else:
                count.files += 1

    os.fsync = fsync
    try:
        yield count
    finally:
        os.fsync = real


def evict(root: Path) -> None:
    """Drop the root's file contents from the page cache, so the next read goes to the disk.

    Only clean pages can be dropped; the store fsyncs everything it writes.
    Directory entries and inodes stay cached (dropping those takes root).
    """
    for directory, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def in_child(target: Callable[..., None], *args: object) -> None:
    """Run ``target(*args)`` in a fresh (spawned) process and wait for it."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"building the root failed (exit status {process.exitcode})")


def worker_record(worker_id: str) -> WorkerRecord:
    return WorkerRecord(worker_id, worker_id, AssistantIntent(), PROFILE, EPOCH)


class StoredHistory:
    """One worker's records as a runtime writes them for streamed replies.

    A run is ``input_accepted``, ``status`` running, ``run_started``, the
    deltas, ``text_done``, ``run_finished`` and ``status`` idle (``deltas + 6``
    events), with a user and an assistant transcript entry.
    """

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.seq = 0
        self.entries = 0
        self.runs = 0

    def created(self) -> list[Event]:
        intent: dict[str, object] = {"kind": "assistant", "purpose": None}
        return [self._event(WorkerCreated(self.worker_id, intent, PROFILE))]

    def run(self, deltas: int) -> tuple[list[Event], list[TranscriptEntry]]:
        """A finished run."""
        started, user = self.start()
        streamed = self.stream(deltas)
        text = "".join(_WORDS[index % len(_WORDS)] for index in range(deltas))
        finished = [
            self._event(TextDoneEvent(self._run_id, text)),
            self._event(RunFinished(self._run_id, "completed")),
            self._event(StatusChanged("idle")),
        ]
        return [*started, *streamed, *finished], [user, self._entry(Role.ASSISTANT, text)]

    def start(self) -> tuple[list[Event], TranscriptEntry]:
        """The events that open a run (up to ``status`` running), and its user entry."""
        self.runs += 1
        user = self._entry(Role.USER, _PROMPT)
        body = InputAccepted(self._run_id, _PROMPT, False, user.sequence)
        return [self._event(body), self._event(StatusChanged("running"))], user

    def stream(self, deltas: int) -> list[Event]:
        """``run_started`` and the deltas of the run in flight."""
        run_id = self._run_id
        events = [self._event(RunStarted(run_id, MODEL))]
        for index in range(deltas):
            events.append(self._event(TextDeltaEvent(run_id, _WORDS[index % len(_WORDS)])))
        return events

    @property
    def _run_id(self) -> str:
        return f"r{self.runs:08d}"

    def _event(self, body: EventBody) -> Event:
        self.seq += 1
        return Event(self.seq, EPOCH + self.seq / 1000, self.worker_id, body)

    def _entry(self, role: Role, content: str) -> TranscriptEntry:
        self.entries += 1
        return TranscriptEntry(self.entries, role, content, EPOCH + self.seq / 1000, self._run_id)
