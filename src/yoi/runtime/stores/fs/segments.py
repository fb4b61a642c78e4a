"""One append-only log on disk: a directory of segment files named by their first key.

Lines are JSON records whose key (``seq``) strictly increases. A segment is
sealed once it reaches ``segment_bytes``; the next batch of lines starts a new
one. Nothing is parsed at open beyond the last line of the last segment; a
read locates its segment by bisecting the segment names and its line through
a :class:`SegmentIndex` built on first use, so page N costs what page 1 does.

Threads: the event loop owns all state here. Only the I/O of a
:class:`PlannedWrite`, :func:`compact_file` and unlinking runs in worker
threads, and they touch files the loop has planned for them, never state.
Reads are synchronous on the loop and only go as far as the bytes the loop
knows are complete; newer records come from the in-memory buffer.
"""

from __future__ import annotations

import contextlib
import os
import re
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from yoi.errors import StoreCorrupt, StoreMissing
from yoi.runtime.stores.codec import BadRecord, line_key
from yoi.runtime.stores.fs.disk import Disk, store_failure, write_all
from yoi.runtime.stores.fs.files import fsync_dir, write_atomic

__all__ = [
    "IndexCache",
    "PlannedWrite",
    "Segment",
    "SegmentIndex",
    "SegmentLog",
    "TailRepair",
    "compact_file",
    "segment_name",
]

T = TypeVar("T")

_NAME = re.compile(r"^(\d{12})(-c)?\.jsonl$")
_TAIL_CHUNK = 64 * 1024
_READ_LINES = 256


def segment_name(first: int, *, compacted: bool = False) -> str:
    return f"{first:012d}{'-c' if compacted else ''}.jsonl"


@dataclass(slots=True)
class Segment:
    first: int
    path: Path
    size: int
    compacted: bool = False


@dataclass(frozen=True, slots=True)
class TailRepair:
    """A partial last line that a crash left behind, and that was cut off."""

    file: str
    line: int
    dropped_bytes: int


class SegmentIndex:
    """Where each complete line of a segment starts, and its key, up to ``covered`` bytes."""

    __slots__ = ("covered", "keys", "offsets")

    def __init__(self) -> None:
        self.keys = array("q")
        self.offsets = array("q")
        self.covered = 0

    def extend(self, segment: Segment, rel: str) -> None:
        """Index the lines between ``covered`` and the segment's known size."""
        if self.covered >= segment.size:
            return
        data = _read_range(segment.path, self.covered, segment.size, rel)
        lines = data.split(b"\n")
        if lines.pop() != b"":
            raise _corrupt(rel, len(self.keys) + len(lines) + 1, "ends in a partial line")
        last = self.keys[-1] if self.keys else segment.first - 1
        offset = self.covered
        for line in lines:
            try:
                key = line_key(line)
            except BadRecord as error:
                raise _corrupt(rel, len(self.keys) + 1, str(error)) from error
            if key <= last:
                raise _corrupt(rel, len(self.keys) + 1, f"seq {key} is out of order")
            self.keys.append(key)
            self.offsets.append(offset)
            offset += len(line) + 1
            last = key
        self.covered = offset


class IndexCache:
    """The most recently used segment indexes, shared by every log of a store."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._indexes: OrderedDict[Path, SegmentIndex] = OrderedDict()

    def get(self, segment: Segment, rel: str) -> SegmentIndex:
        index = self._indexes.pop(segment.path, None) or SegmentIndex()
        self._indexes[segment.path] = index
        while len(self._indexes) > self._capacity:
            self._indexes.popitem(last=False)
        index.extend(segment, rel)
        return index

    def forget(self, path: Path) -> None:
        self._indexes.pop(path, None)


@dataclass(slots=True)
class PlannedWrite:
    """Bytes to write at the durable end of one segment file; :meth:`run` does the I/O in a thread.

    The bytes go at an explicit offset, not in append mode: a write that failed
    part way is retried over whatever it left, so a retry never doubles a line.
    """

    path: Path
    data: bytes
    offset: int
    new_segment: bool
    first: int
    last: int

    def run(self, disk: Disk) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            write_all(disk, fd, self.data, self.offset)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self.offset)  # tidy only: the durable end is what counts
            raise
        finally:
            os.close(fd)
        if self.new_segment:
            fsync_dir(self.path.parent)


@dataclass(slots=True)
class _Buffered(Generic[T]):
    key: int
    record: T
    line: bytes


@dataclass(slots=True, eq=False)
class SegmentLog(Generic[T]):
    """A log's segments, its durable end, and the records not yet on disk."""

    directory: Path
    rel: str
    decode: Callable[[bytes], T]
    cache: IndexCache
    segment_bytes: int
    segments: list[Segment] = field(default_factory=list)
    durable_last: int = 0
    last_key: int = 0
    _buffer: list[_Buffered[T]] = field(default_factory=list)
    _inflight: int = 0

    # -- opening --------------------------------------------------------------

    def recover(self) -> TailRepair | None:
        """Find the segments on disk, cutting off a torn last line. Reads only the tail."""
        self.segments = _list_segments(self.directory)
        repair = self._repair_tail() if self.segments else None
        self.durable_last = self.last_key = self._last_key_on_disk()
        return repair

    def _repair_tail(self) -> TailRepair | None:
        segment = self.segments[-1]
        cut = _last_line_end(segment.path, segment.size)
        if cut == segment.size:
            return None
        line = _count_lines(segment.path, cut) + 1
        fd = os.open(segment.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, cut)
            os.fsync(fd)
        finally:
            os.close(fd)
        repair = TailRepair(self._rel(segment), line, segment.size - cut)
        segment.size = cut
        return repair

    def _last_key_on_disk(self) -> int:
        for segment in reversed(self.segments):
            if segment.size == 0:
                return segment.first - 1
            line = _last_line(segment.path, segment.size)
            try:
                self.decode(line)  # the owner and shape of the newest record, checked
                return line_key(line)
            except BadRecord as error:
                count = _count_lines(segment.path, segment.size)
                raise _corrupt(self._rel(segment), count, str(error)) from error
        return 0

    # -- writing --------------------------------------------------------------

    def append(self, key: int, record: T, line: bytes) -> None:
        self._buffer.append(_Buffered(key, record, line))
        self.last_key = key

    def plan(self) -> PlannedWrite | None:
        """Take the buffered records as the next write, or None if there are none."""
        batch = self._buffer[self._inflight :]
        if not batch:
            return None
        self._inflight = len(self._buffer)
        data = b"".join(item.line for item in batch)
        active = self.segments[-1] if self.segments else None
        if active is None or (active.size > 0 and active.size >= self.segment_bytes):
            path = self.directory / segment_name(batch[0].key)
            return PlannedWrite(path, data, 0, True, batch[0].key, batch[-1].key)
        return PlannedWrite(active.path, data, active.size, False, batch[0].key, batch[-1].key)

    @property
    def buffered(self) -> int:
        """Records appended but not yet durable, in flight or waiting."""
        return len(self._buffer)

    def commit(self, write: PlannedWrite) -> list[T]:
        """The write is durable: its records are now read from disk. Returns them."""
        if write.new_segment:
            self.segments.append(Segment(write.first, write.path, 0))
        self.segments[-1].size += len(write.data)
        self.durable_last = write.last
        committed = [item.record for item in self._buffer[: self._inflight]]
        del self._buffer[: self._inflight]
        self._inflight = 0
        return committed

    def fail(self) -> None:
        """The write failed: its records stay buffered, and the next plan writes them again."""
        self._inflight = 0

    # -- reading --------------------------------------------------------------

    @property
    def first_retained(self) -> int:
        if self.segments:
            return self.segments[0].first
        return self._buffer[0].key if self._buffer else self.last_key + 1

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments)

    def read(self, after: int, limit: int) -> list[T]:
        """Up to ``limit`` records with a key above ``after``, in order."""
        found = self._read_disk(after, limit) if after < self.durable_last else []
        for item in self._buffer:
            if len(found) >= limit:
                break
            if item.key > after:
                found.append(item.record)
        return found

    def _read_disk(self, after: int, limit: int) -> list[T]:
        found: list[T] = []
        if limit < 1:
            return found
        for rel, number, line in self.lines_after(after):
            found.append(self.decode_line(rel, number, line))
            if len(found) >= limit:
                break  # before the next line: it may be in a segment this page does not need
        return found

    def lines_after(self, after: int) -> Iterator[tuple[str, int, bytes]]:
        """The raw durable lines with a key above ``after``: file, line number, bytes."""
        firsts = [segment.first for segment in self.segments]
        start = max(bisect_right(firsts, after + 1) - 1, 0)
        for segment in self.segments[start:]:
            rel = self._rel(segment)
            index = self.cache.get(segment, rel)
            begin = bisect_right(index.keys, after)
            for end in range(begin, len(index.keys), _READ_LINES):
                stop = min(end + _READ_LINES, len(index.keys))
                upto = index.offsets[stop] if stop < len(index.keys) else index.covered
                data = _read_range(segment.path, index.offsets[end], upto, rel)
                for number, line in enumerate(data.split(b"\n")[:-1], start=end + 1):
                    yield rel, number, line

    def decode_line(self, rel: str, number: int, line: bytes) -> T:
        try:
            return self.decode(line)
        except BadRecord as error:
            raise _corrupt(rel, number, str(error)) from error

    # -- compaction and retention --------------------------------------------

    def replace(self, segment: Segment, compacted: Path, size: int) -> Path:
        """Point ``segment`` at its compacted file; returns the old file, to unlink."""
        old = segment.path
        self.cache.forget(old)
        segment.path, segment.size, segment.compacted = compacted, size, True
        return old

    def drop_oldest(self) -> Segment:
        segment = self.segments.pop(0)
        self.cache.forget(segment.path)
        return segment

    def _rel(self, segment: Segment) -> str:
        return f"{self.rel}/{segment.path.name}"


def compact_file(segment: Segment, keep: Callable[[bytes], bool], disk: Disk) -> tuple[Path, int]:
    """Write the lines of a sealed segment that ``keep`` accepts to its compacted file."""
    data = segment.path.read_bytes()[: segment.size]
    kept = b"".join(line + b"\n" for line in data.split(b"\n")[:-1] if keep(line))
    target = segment.path.with_name(segment_name(segment.first, compacted=True))
    write_atomic(target, kept, disk)
    return target, len(kept)


def _list_segments(directory: Path) -> list[Segment]:
    """The segments in a log directory, preferring a compacted file over its original."""
    chosen: dict[int, Segment] = {}
    stale: list[Path] = []
    for entry in os.scandir(directory):
        match = _NAME.match(entry.name)
        if match is None:
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                stale.append(Path(entry.path))  # an interrupted compaction
            continue
        first, compacted = int(match.group(1)), match.group(2) is not None
        segment = Segment(first, Path(entry.path), entry.stat().st_size, compacted)
        other = chosen.get(first)
        if other is None or compacted:
            chosen[first] = segment
            if other is not None:
                stale.append(other.path)  # the compacted copy is complete: it was renamed
        else:
            stale.append(segment.path)
    for path in stale:
        path.unlink(missing_ok=True)
    return [chosen[first] for first in sorted(chosen)]


def _read_range(path: Path, start: int, stop: int, rel: str) -> bytes:
    try:
        with path.open("rb") as file:
            file.seek(start)
            data = file.read(stop - start)
    except FileNotFoundError as error:
        raise StoreMissing(f"{rel} is missing", details={"file": rel}) from error
    except OSError as error:
        raise store_failure(error, f"cannot read {rel}") from error
    if len(data) != stop - start:
        raise _corrupt(rel, 0, "is shorter than the store wrote")
    return data


def _last_line_end(path: Path, size: int) -> int:
    """The offset just past the last newline of the first ``size`` bytes (0 if none)."""
    with path.open("rb") as file:
        end = size
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            chunk = file.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
    return 0


def _last_line(path: Path, size: int) -> bytes:
    """The last complete line of a segment that ends with a newline."""
    start = _last_line_end(path, size - 1)
    with path.open("rb") as file:
        file.seek(start)
        return file.read(size - 1 - start)


def _count_lines(path: Path, size: int) -> int:
    with path.open("rb") as file:
        return file.read(size).count(b"\n")


def _corrupt(rel: str, line: int, reason: str) -> StoreCorrupt:
    where = f"{rel} line {line}" if line else rel
    return StoreCorrupt(f"{where} {reason}", details={"file": rel, "line": line})
