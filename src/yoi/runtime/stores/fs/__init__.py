"""The filesystem store: durable workers, transcripts and event logs under one root."""

from yoi.runtime.stores.fs.disk import Disk, OsDisk
from yoi.runtime.stores.fs.store import FsStore
from yoi.runtime.stores.fs.worker_files import CREATING_PREFIX, RESTART_SEQ_GAP, FsLimits

__all__ = ["CREATING_PREFIX", "RESTART_SEQ_GAP", "Disk", "FsLimits", "FsStore", "OsDisk"]
