"""The worker lifecycle as a state machine (ARCHITECTURE §4.1)."""

from __future__ import annotations

import enum

__all__ = ["IllegalTransition", "WorkerStatus"]


class IllegalTransition(RuntimeError):
    """A programming error: the runtime tried a move the lifecycle forbids."""


class WorkerStatus(enum.StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    STOPPED = "stopped"

    def to(self, target: WorkerStatus) -> WorkerStatus:
        """Return ``target`` if this status may move there, else raise at once."""
        if target not in _ALLOWED[self]:
            raise IllegalTransition(f"a worker cannot go from {self} to {target}")
        return target

    def reopened(self) -> WorkerStatus:
        """``idle`` again, for a stopped worker that is explicitly reopened (the backend's
        Companion); no ordinary move leaves ``stopped``."""
        if self is not WorkerStatus.STOPPED:
            raise IllegalTransition(f"only a stopped worker is reopened, not an {self} one")
        return WorkerStatus.IDLE


_ALLOWED: dict[WorkerStatus, frozenset[WorkerStatus]] = {
    WorkerStatus.IDLE: frozenset({WorkerStatus.RUNNING, WorkerStatus.STOPPED}),
    WorkerStatus.RUNNING: frozenset({WorkerStatus.IDLE, WorkerStatus.STOPPED}),
    WorkerStatus.STOPPED: frozenset(),
}
