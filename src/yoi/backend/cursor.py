"""The backend's observation cursors: opaque to clients, a runtime, a worker and a seq to us.

A backend cursor names the last event a client has seen, so a client that
reconnects (to this backend, or after it restarted) resumes exactly there.
The runtime's own cursor never reaches the client.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from yoi.errors import InvalidCursor

__all__ = ["BackendCursor", "ListingCursor"]

_PREFIX = "b1"


@dataclass(frozen=True, slots=True)
class BackendCursor:
    runtime_id: str
    worker_id: str
    seq: int

    def encode(self) -> str:
        raw = f"{_PREFIX}:{self.runtime_id}:{self.worker_id}:{self.seq}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, cursor: str, runtime_id: str, worker_id: str) -> BackendCursor:
        """The cursor, if it is this worker's; else ``invalid_cursor``."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
            prefix, owner_runtime, owner_worker, seq_text = text.split(":")
            seq = int(seq_text)
        except (binascii.Error, UnicodeError, ValueError) as error:
            raise InvalidCursor("the cursor is malformed") from error
        if prefix != _PREFIX or seq < 0:
            raise InvalidCursor("the cursor is malformed")
        if (owner_runtime, owner_worker) != (runtime_id, worker_id):
            raise InvalidCursor("the cursor belongs to another worker")
        return cls(runtime_id, worker_id, seq)


@dataclass(frozen=True, slots=True)
class ListingCursor:
    """Where a page of the cross-runtime worker listing ends: a runtime, and a worker in it.

    An empty ``after`` means "from the start of that runtime".
    """

    runtime_id: str
    after: str

    def encode(self) -> str:
        raw = f"l1:{self.runtime_id}:{self.after}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, cursor: str) -> ListingCursor:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
            prefix, runtime_id, after = text.split(":")
        except (binascii.Error, UnicodeError, ValueError) as error:
            raise InvalidCursor("the listing cursor is malformed") from error
        if prefix != "l1" or not runtime_id:
            raise InvalidCursor("the listing cursor is malformed")
        return cls(runtime_id, after)
