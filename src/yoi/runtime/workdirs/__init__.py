"""Workdirs: git worktrees of allowed repositories that a runtime makes for its workers."""

from yoi.runtime.workdirs.ledger import FsLedger, LedgerProblem, MemoryLedger, WorkdirLedger
from yoi.runtime.workdirs.manager import Placement, Workdirs
from yoi.runtime.workdirs.record import DeletedWorkdir, Workdir, WorkdirRecord, WorktreeState

__all__ = [
    "DeletedWorkdir",
    "FsLedger",
    "LedgerProblem",
    "MemoryLedger",
    "Placement",
    "Workdir",
    "WorkdirLedger",
    "WorkdirRecord",
    "Workdirs",
    "WorktreeState",
]
