"""One worker's token usage as the orchestrator keeps it: a row of the ``usage`` table.

A worker's usage is cumulative (the runtime adds each model call to it), so a row holds
the latest figures, not a delta: writing it again is idempotent, and the sums per run and
per ticket are SQL sums over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from yoi.errors import InvalidRequest
from yoi.ids import validate_id
from yoi.orchestrator.fields import checked_count, checked_text, checked_ticket

__all__ = ["MAX_TOKENS", "TOKEN_KINDS", "WorkerUsage"]

MAX_TOKENS = 2**62
"""Past any real count, within SQLite's 64-bit integers."""
TOKEN_KINDS = ("input_tokens", "output_tokens", "cached_tokens")


@dataclass(frozen=True, slots=True)
class WorkerUsage:
    """The tokens one worker of a ticket's attempt has used so far, and its model."""

    ticket_id: str
    attempt: int
    worker_id: str
    role: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ticket_id", checked_ticket(self.ticket_id))
        object.__setattr__(self, "attempt", checked_count(self.attempt, "attempt", minimum=1))
        object.__setattr__(self, "worker_id", validate_id(self.worker_id, field="worker_id"))
        object.__setattr__(self, "role", checked_text(self.role, "role", limit=32, line=True))
        object.__setattr__(self, "model", checked_text(self.model, "model", limit=255, line=True))
        for kind in TOKEN_KINDS:
            _check_tokens(getattr(self, kind), kind)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def tokens(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in TOKEN_KINDS}


def _check_tokens(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise InvalidRequest(
            f"{field} must be a whole number from 0 to {MAX_TOKENS}", details={"field": field}
        )
