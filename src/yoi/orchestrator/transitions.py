"""The orchestration's transitions: every phase a run moved to, and every gate opened or
decided, in the order they happened, each with a cursor a client resumes after.

The state appends a transition in the same transaction as the run's save
(:meth:`~yoi.orchestrator.state.OrchestratorState.save`), so a change is in the log once
and only if it happened. The board's stream (``WS /api/orchestrator/events/ws``) sends a
snapshot, then the transitions after its cursor.

A cursor is opaque to clients: it names the state's database (its ``epoch``, made when the
database was) and a sequence number in it. A cursor of another database (one rebuilt since)
or from the future is ``invalid_cursor``; one older than the retained log is
``cursor_expired``. Either way a client reconnects without a cursor and resyncs from the
snapshot.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum

from yoi.errors import InvalidCursor

__all__ = ["RETAINED", "Position", "Transition", "TransitionKind", "decode_cursor", "encode_cursor"]

RETAINED = 100_000
"""How many transitions the state keeps; older ones are pruned as new ones come."""

_PREFIX = "o1"
_EPOCH = re.compile(r"[0-9a-f]{16}")


class TransitionKind(StrEnum):
    PHASE = "phase"
    """A run moved to a phase (``to``; ``from`` is where it was, null for a new ticket's)."""
    GATE = "gate"
    """A run's gate opened (``to`` = ``open``) or was decided (``approved``, ``rejected``)."""


@dataclass(frozen=True, slots=True)
class Transition:
    epoch: str
    seq: int
    ticket_id: str
    attempt: int
    kind: TransitionKind
    from_phase: str | None
    to: str
    gate: str | None
    reason: str | None
    at: float

    @property
    def cursor(self) -> str:
        return encode_cursor(self.epoch, self.seq)

    def event(self) -> dict[str, object]:
        """What a stream's ``transition`` event carries."""
        return {
            "type": "transition",
            "ticket_id": self.ticket_id,
            "attempt": self.attempt,
            "kind": self.kind.value,
            "from": self.from_phase,
            "to": self.to,
            "gate": self.gate,
            "reason": self.reason,
        }

    def to_dict(self) -> dict[str, object]:
        found = self.event()
        del found["type"]
        return {"cursor": self.cursor, "seq": self.seq, **found, "at": self.at}


@dataclass(frozen=True, slots=True)
class Position:
    """Where the log is: the newest sequence number of the database of ``epoch``."""

    epoch: str
    seq: int

    @property
    def cursor(self) -> str:
        return encode_cursor(self.epoch, self.seq)


def encode_cursor(epoch: str, seq: int) -> str:
    raw = f"{_PREFIX}:{epoch}:{seq}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, epoch: str) -> int:
    """The sequence number ``cursor`` names in the database of ``epoch``; ``invalid_cursor``
    for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        prefix, owner, number = text.split(":")
        seq = int(number)
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidCursor("the cursor is malformed") from error
    if (
        prefix != _PREFIX
        or _EPOCH.fullmatch(owner) is None
        or not number.isdigit()
        or encode_cursor(owner, seq) != cursor
    ):
        raise InvalidCursor("the cursor is malformed")
    if owner != epoch:
        raise InvalidCursor(
            "the cursor is of another orchestrator state (rebuilt since): resync from a snapshot"
        )
    return seq
