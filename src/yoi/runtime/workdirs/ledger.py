"""Where workdir records are kept: in memory, or one JSON file per workdir on disk."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from yoi.errors import StoreCorrupt
from yoi.ids import ID_PATTERN
from yoi.runtime.stores.fs.disk import OsDisk, store_failure
from yoi.runtime.stores.fs.files import fsync_dir, write_atomic
from yoi.runtime.workdirs.record import WorkdirRecord

__all__ = ["FsLedger", "LedgerProblem", "MemoryLedger", "WorkdirLedger"]


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """A record file that could not be read; it is left where it is for a person to look at."""

    name: str
    message: str


class WorkdirLedger(Protocol):
    @property
    def durable(self) -> bool:
        """Whether records outlive the process."""
        ...

    async def load(self) -> tuple[list[WorkdirRecord], list[LedgerProblem]]: ...

    async def save(self, record: WorkdirRecord) -> None: ...

    async def drop(self, workdir_id: str) -> None: ...


class MemoryLedger:
    durable = False

    def __init__(self) -> None:
        self._records: dict[str, WorkdirRecord] = {}

    async def load(self) -> tuple[list[WorkdirRecord], list[LedgerProblem]]:
        return list(self._records.values()), []

    async def save(self, record: WorkdirRecord) -> None:
        self._records[record.workdir_id] = record

    async def drop(self, workdir_id: str) -> None:
        self._records.pop(workdir_id, None)


class FsLedger:
    """``<directory>/<workdir_id>.json``, each written whole by an fsynced atomic rename."""

    durable = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def load(self) -> tuple[list[WorkdirRecord], list[LedgerProblem]]:
        return await asyncio.to_thread(self._load)

    async def save(self, record: WorkdirRecord) -> None:
        await asyncio.to_thread(self._save, record)

    async def drop(self, workdir_id: str) -> None:
        await asyncio.to_thread(self._drop, workdir_id)

    def _load(self) -> tuple[list[WorkdirRecord], list[LedgerProblem]]:
        records: list[WorkdirRecord] = []
        problems: list[LedgerProblem] = []
        with contextlib.suppress(FileNotFoundError):
            for name in sorted(os.listdir(self.directory)):
                stem = name.removesuffix(".json")
                if name.startswith(".") or stem == name:
                    continue  # a temporary file a crash left, or something not ours
                try:
                    record = WorkdirRecord.decode((self.directory / name).read_bytes())
                    if record.workdir_id != stem:
                        raise StoreCorrupt("a workdir record names another workdir")
                except StoreCorrupt as error:
                    problems.append(LedgerProblem(name, error.message))
                except OSError as error:
                    problems.append(LedgerProblem(name, error.strerror or "unreadable"))
                else:
                    records.append(record)
        return records, problems

    def _save(self, record: WorkdirRecord) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self._path(record.workdir_id), record.encode(), OsDisk())
        except OSError as error:
            raise store_failure(error, "cannot save a workdir record") from None

    def _drop(self, workdir_id: str) -> None:
        try:
            self._path(workdir_id).unlink(missing_ok=True)
            fsync_dir(self.directory)
        except FileNotFoundError:
            return
        except OSError as error:
            raise store_failure(error, "cannot remove a workdir record") from None

    def _path(self, workdir_id: str) -> Path:
        if ID_PATTERN.fullmatch(workdir_id) is None:
            raise StoreCorrupt("a workdir id is not an id")
        return self.directory / f"{workdir_id}.json"
