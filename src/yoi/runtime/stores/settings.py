"""Choosing a store by configuration: ``store = "fs"`` and ``store_root = "..."``.

The same keys work at the top of a runtime's TOML file and in the
``[runtime]`` table of a workspace config::

    store = "fs"                        # "memory" (the default) or "fs"
    store_root = ".yoi/state/runtime"   # relative to the config file's directory
    store_retain_event_bytes = 67108864 # optional: event log bytes kept per worker
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from yoi.errors import InvalidRequest
from yoi.runtime.stores.fs import FsLimits, FsStore
from yoi.runtime.stores.memory import MemoryStore
from yoi.runtime.stores.protocol import Store

__all__ = ["StoreSettings"]

StoreKind = Literal["memory", "fs"]


@dataclass(frozen=True, slots=True)
class StoreSettings:
    kind: StoreKind = "memory"
    root: Path | None = None
    retain_event_bytes: int | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, object], *, base: Path) -> StoreSettings:
        """Read the store keys of ``values``; other keys are left for their owners.

        A relative ``store_root`` is taken from ``base`` (the config file's
        directory). Bad values raise ``invalid_request`` naming the key.
        """
        kind = values.get("store", "memory")
        if kind not in ("memory", "fs"):
            raise InvalidRequest(
                f"store must be 'memory' or 'fs', not {kind!r}", details={"field": "store"}
            )
        root = values.get("store_root")
        if root is not None and (not isinstance(root, str) or not root.strip()):
            raise InvalidRequest("store_root must be a path", details={"field": "store_root"})
        if kind == "fs" and root is None:
            raise InvalidRequest(
                "store = 'fs' needs store_root, the directory to keep the runtime in",
                details={"field": "store_root"},
            )
        retain = values.get("store_retain_event_bytes")
        if retain is not None and (
            not isinstance(retain, int) or isinstance(retain, bool) or retain < 1
        ):
            raise InvalidRequest(
                "store_retain_event_bytes must be a positive integer",
                details={"field": "store_retain_event_bytes"},
            )
        try:
            chosen = None if root is None else base / Path(root).expanduser()
        except RuntimeError:  # ~user of a user that has no home
            raise InvalidRequest(
                f"store_root {root} names a home directory that does not exist",
                details={"field": "store_root"},
            ) from None
        return cls(
            kind="fs" if kind == "fs" else "memory",
            root=chosen,
            retain_event_bytes=retain,
        )

    def build(self) -> Store:
        if self.kind == "memory":
            return MemoryStore()
        assert self.root is not None  # from_mapping guarantees it
        limits = FsLimits()
        if self.retain_event_bytes is not None:
            limits = FsLimits(retain_event_bytes=self.retain_event_bytes)
        return FsStore(self.root, limits=limits)
