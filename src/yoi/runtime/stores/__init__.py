"""Where a runtime keeps its records, logs and transcripts."""

from yoi.runtime.stores.fs import FsLimits, FsStore
from yoi.runtime.stores.memory import MemoryStore
from yoi.runtime.stores.protocol import (
    EventSlice,
    QueuedInput,
    Store,
    StoredState,
    StoredWorker,
    StoreProblem,
)
from yoi.runtime.stores.settings import StoreSettings

__all__ = [
    "EventSlice",
    "FsLimits",
    "FsStore",
    "MemoryStore",
    "QueuedInput",
    "Store",
    "StoreProblem",
    "StoreSettings",
    "StoredState",
    "StoredWorker",
]
