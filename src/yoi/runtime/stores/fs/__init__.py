"""The filesystem store: durable workers, transcripts and event logs under one root."""

from yoi.runtime.stores.fs.store import FsStore
from yoi.runtime.stores.fs.worker_files import RESTART_SEQ_GAP, FsLimits

__all__ = ["RESTART_SEQ_GAP", "FsLimits", "FsStore"]
