"""What a runtime remembers of a workdir, and what it shows of one."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum

from yoi.errors import StoreCorrupt
from yoi.ids import ID_PATTERN
from yoi.runtime.events import format_time

__all__ = ["DeletedWorkdir", "Workdir", "WorkdirRecord", "WorktreeState"]

_FIELDS = ("workdir_id", "repository", "base_ref", "base_commit", "branch", "created_at")


@dataclass(frozen=True, slots=True)
class WorkdirRecord:
    """A worktree the runtime made: of which repository, from which base, on which branch
    (``None``: detached). Its files live at ``<worktree folder>/<workdir_id>``."""

    workdir_id: str
    repository: str
    base_ref: str
    base_commit: str
    branch: str | None
    created_at: float

    def encode(self) -> bytes:
        """The record as one JSON object, as it is kept on disk."""
        return json.dumps({name: getattr(self, name) for name in _FIELDS}).encode()

    @classmethod
    def decode(cls, data: bytes) -> WorkdirRecord:
        try:
            found = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise StoreCorrupt("a workdir record is not JSON") from None
        if not isinstance(found, dict) or sorted(found) != sorted(_FIELDS):
            raise StoreCorrupt("a workdir record does not hold the fields of one")
        workdir_id, repository, base_ref, base_commit = (found[name] for name in _FIELDS[:4])
        texts = (workdir_id, repository, base_ref, base_commit)
        created, branch = found["created_at"], found["branch"]
        if (
            not all(isinstance(text, str) for text in texts)
            or ID_PATTERN.fullmatch(texts[0]) is None
        ):
            raise StoreCorrupt("a workdir record holds a field of the wrong kind")
        if not (branch is None or isinstance(branch, str)):
            raise StoreCorrupt("a workdir record's branch is neither text nor null")
        if (
            isinstance(created, bool)
            or not isinstance(created, int | float)
            or not math.isfinite(created)
        ):
            raise StoreCorrupt("a workdir record's created_at is not a time")
        return cls(workdir_id, repository, base_ref, base_commit, branch, float(created))


class WorktreeState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"  # deleted by hand: the record stays until the workdir is deleted


@dataclass(frozen=True, slots=True)
class Workdir:
    """A workdir as it is now: its record, whether its worktree is there, the commit it is at,
    its disk use and how many of its commits no branch, tag or remote holds (``None``: not
    known, as for a missing worktree git no longer lists)."""

    record: WorkdirRecord
    state: WorktreeState
    head: str | None
    disk_bytes: int
    disk_complete: bool
    unmerged: int | None

    def to_dict(self) -> dict[str, object]:
        record = self.record
        return {
            "workdir_id": record.workdir_id,
            "repository": record.repository,
            "base_ref": record.base_ref,
            "base_commit": record.base_commit,
            "branch": record.branch,
            "created_at": format_time(record.created_at),
            "state": self.state.value,
            "head": self.head,
            "disk_bytes": self.disk_bytes,
            "disk_complete": self.disk_complete,
            "unmerged": self.unmerged,
        }


@dataclass(frozen=True, slots=True)
class DeletedWorkdir:
    workdir_id: str
    worktree_removed: bool
    branch_deleted: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "workdir_id": self.workdir_id,
            "worktree_removed": self.worktree_removed,
            "branch_deleted": self.branch_deleted,
        }
