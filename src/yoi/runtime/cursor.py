"""Observation cursors: opaque to clients, a worker id and a seq to us."""

from __future__ import annotations

import base64
import binascii

from yoi.errors import CursorExpired, InvalidCursor

__all__ = ["check_resume", "decode_cursor", "encode_cursor"]


def encode_cursor(worker_id: str, seq: int) -> str:
    raw = f"{worker_id}:{seq}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, worker_id: str) -> int:
    """The seq a cursor points at, if it is this worker's; else ``invalid_cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        owner, _, seq_text = base64.urlsafe_b64decode(padded).decode().rpartition(":")
        seq = int(seq_text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("the cursor is malformed") from error
    if owner != worker_id or seq < 0:
        raise InvalidCursor("the cursor belongs to another worker")
    return seq


def check_resume(seq: int, *, first_retained: int, last_seq: int) -> None:
    """Raise unless every event after ``seq`` is still retained and ``seq`` is not ahead."""
    if seq > last_seq:
        raise InvalidCursor("the cursor is ahead of the worker's event log")
    if seq < first_retained - 1:
        raise CursorExpired(
            "events after the cursor are no longer retained; resync from a snapshot",
            details={"first_retained_seq": first_retained},
        )
