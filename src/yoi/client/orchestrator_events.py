"""The client side of the board's stream, ``WS /api/orchestrator/events/ws``.

An :class:`OrchestratorEvents` yields, without a cursor, an :class:`OrchestratorSnapshot`
(the whole status of ``GET /api/orchestrator`` and the cursor it is current to), then a
:class:`RunTransition` per phase change or gate move, in order, none twice. Opened with a
cursor it yields the transitions after it, with no snapshot. Its ``cursor`` is the last
one yielded: reconnect with it after a cut (``runtime_unavailable``) or ``slow_consumer``.
A cursor the backend no longer keeps raises :class:`~yoi.errors.CursorExpired`, one it
cannot read :class:`~yoi.errors.InvalidCursor`: reconnect without one and resync from the
snapshot. A backend without an orchestrator refuses the upgrade
(``unsupported_operation``); its closing ends the iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from yoi.client.observation import FrameStream, open_stream
from yoi.runtime.wire import read_optional_str, read_str

__all__ = [
    "OrchestratorEvent",
    "OrchestratorEvents",
    "OrchestratorSnapshot",
    "RunTransition",
    "connect_orchestrator_events",
]

_KINDS = ("phase", "gate")


@dataclass(frozen=True, slots=True)
class OrchestratorSnapshot:
    """The orchestrator's whole status as ``GET /api/orchestrator`` answers it."""

    status: Mapping[str, Any]
    cursor: str
    seq: int
    at: float


@dataclass(frozen=True, slots=True)
class RunTransition:
    """A run moved to a phase (``kind`` ``phase``: ``to`` is the phase, ``from_phase`` where
    it was) or its gate opened or was decided (``gate``: ``to`` is ``open``, ``approved`` or
    ``rejected``)."""

    ticket_id: str
    attempt: int
    kind: Literal["phase", "gate"]
    from_phase: str | None
    to: str
    gate: str | None
    reason: str | None
    cursor: str
    seq: int
    at: float

    @classmethod
    def read(cls, event: Mapping[str, Any], cursor: str, seq: int, at: float) -> RunTransition:
        kind = event["kind"]
        if kind not in _KINDS or not isinstance(event["attempt"], int):
            raise ValueError("not a transition")
        return cls(
            ticket_id=read_str(event["ticket_id"]),
            attempt=event["attempt"],
            kind=kind,
            from_phase=read_optional_str(event.get("from")),
            to=read_str(event["to"]),
            gate=read_optional_str(event.get("gate")),
            reason=read_optional_str(event.get("reason")),
            cursor=cursor,
            seq=seq,
            at=at,
        )


OrchestratorEvent = OrchestratorSnapshot | RunTransition


async def connect_orchestrator_events(
    base_url: str, token: str | None, *, cursor: str | None = None, peer: str = "backend"
) -> OrchestratorEvents:
    """Open the stream of the backend whose WebSocket base is ``base_url`` (``ws://host``)."""
    url = f"{base_url}/api/orchestrator/events/ws"
    if cursor is not None:
        url += f"?cursor={quote(cursor, safe='')}"
    return OrchestratorEvents(await open_stream(url, token, peer=peer), peer=peer)


class OrchestratorEvents(FrameStream):
    cursor: str | None = None
    """The cursor of the last event yielded; resume after it."""

    def __aiter__(self) -> OrchestratorEvents:
        return self

    async def __anext__(self) -> OrchestratorEvent:
        frame = await self.next_frame()
        try:
            event = _read(frame)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise self.unreadable() from error
        self.cursor = event.cursor
        return event


def _read(frame: Mapping[str, Any]) -> OrchestratorEvent:
    cursor, seq, at = read_str(frame["cursor"]), frame["seq"], frame["at"]
    if not isinstance(seq, int) or not isinstance(at, int | float):
        raise ValueError("no position")
    event = frame["event"]
    match event["type"]:
        case "snapshot":
            status = event["status"]
            if not isinstance(status, dict):
                raise ValueError("no status")
            return OrchestratorSnapshot(status, cursor, seq, float(at))
        case "transition":
            return RunTransition.read(event, cursor, seq, float(at))
    raise ValueError("not an orchestrator event")
