"""Where a runtime keeps its records, logs and transcripts."""

from yoi.runtime.stores.memory import MemoryStore
from yoi.runtime.stores.protocol import EventSlice, Store, StoredState

__all__ = ["EventSlice", "MemoryStore", "Store", "StoredState"]
