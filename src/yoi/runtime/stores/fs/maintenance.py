"""Keeping a worker's event log small: compaction of deltas and retention by bytes.

Both run after a write, on sealed segments only, and never touch what the
store still needs: compaction skips segments that hold deltas of the run in
flight, and retention keeps every event after the worker's last checkpoint
(the ones replayed on open).
"""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

from yoi.runtime.stores.codec import is_delta
from yoi.runtime.stores.fs.disk import Disk
from yoi.runtime.stores.fs.files import fsync_dir
from yoi.runtime.stores.fs.segments import Segment, compact_file
from yoi.runtime.stores.fs.worker_files import FsLimits, WorkerFiles

__all__ = ["maintain"]


def _not_a_delta(line: bytes) -> bool:
    return not is_delta(line)


async def maintain(files: WorkerFiles, limits: FsLimits, disk: Disk) -> None:
    if limits.compact_deltas:
        await _compact(files, disk)
    await _retain(files, limits.retain_event_bytes)


def _compactable(files: WorkerFiles) -> list[Segment]:
    """Sealed segments not yet compacted whose runs have all finished."""
    segments = files.events.segments
    active_since = files.progress.active_since
    found: list[Segment] = []
    for segment, following in pairwise(segments):
        if segment.compacted:
            continue
        if active_since is not None and following.first > active_since:
            break
        found.append(segment)
    return found


async def _compact(files: WorkerFiles, disk: Disk) -> None:
    for segment in _compactable(files):
        target, size = await asyncio.to_thread(compact_file, segment, _not_a_delta, disk)
        if segment not in files.events.segments:
            continue  # retention dropped it meanwhile
        old = files.events.replace(segment, target, size)
        await asyncio.to_thread(_unlink, [old])


async def _retain(files: WorkerFiles, budget: int) -> None:
    log = files.events
    dropped: list[Path] = []
    while (
        len(log.segments) > 1
        and log.size > budget
        and log.segments[1].first - 1 <= files.checkpoint_seq
    ):
        dropped.append(log.drop_oldest().path)
    if dropped:
        await asyncio.to_thread(_unlink, dropped)


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    if paths:
        fsync_dir(paths[0].parent)
