"""Operations: the side effects of a run, each named by an id it keeps across restarts.

An operation id is made from what the step is — ticket, attempt, step kind and round —
never from a clock or a counter, so the loop finds the same id for the same step after a
restart and sees it recorded: ``<ticket>/<attempt>/<kind>/<round>``, e.g.
``00001KSKBP8Z8/1/merge/2``. Distinct keys give distinct ids and :meth:`OperationKey.parse`
reads an id back into its key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from yoi.errors import InvalidRequest
from yoi.orchestrator.fields import checked_count, checked_moment, checked_text, checked_ticket

__all__ = [
    "Operation",
    "OperationKey",
    "OperationStatus",
    "checked_result",
    "operation_id",
]

_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")


class OperationStatus(StrEnum):
    STARTED = "started"  # begun; its effect may or may not have happened
    DONE = "done"  # its effect happened and its result is recorded
    FAILED = "failed"  # its effect raised; a later try may begin it again


@dataclass(frozen=True, slots=True)
class OperationKey:
    """The one operation a step may perform: what the state's methods take."""

    ticket_id: str
    attempt: int
    kind: str
    round: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ticket_id", checked_ticket(self.ticket_id))
        object.__setattr__(self, "attempt", checked_count(self.attempt, "attempt", minimum=1))
        object.__setattr__(self, "round", checked_count(self.round, "round"))
        if not isinstance(self.kind, str) or _KIND.fullmatch(self.kind) is None:
            raise InvalidRequest(
                "an operation's kind must match [a-z][a-z0-9_]{0,63}", details={"field": "kind"}
            )

    @property
    def op_id(self) -> str:
        return f"{self.ticket_id}/{self.attempt}/{self.kind}/{self.round}"

    @classmethod
    def parse(cls, op_id: str) -> OperationKey:
        """The key an id was made from; ``invalid_request`` for any other text."""
        parts = op_id.split("/") if isinstance(op_id, str) else []
        numbers = [part for part in parts[1::2] if re.fullmatch(r"0|[1-9][0-9]{0,9}", part)]
        if len(parts) != 4 or len(numbers) != 2:
            raise InvalidRequest(
                "an operation id is <ticket>/<attempt>/<kind>/<round>", details={"field": "op_id"}
            )
        key = cls(parts[0], int(parts[1]), parts[2], int(parts[3]))
        if key.op_id != op_id:  # a ticket id in another spelling names the same ticket
            raise InvalidRequest("the operation id is not canonical", details={"field": "op_id"})
        return key


def operation_id(ticket_id: str, attempt: int, kind: str, round: int = 0) -> str:
    """The id of the operation ``kind`` of ``ticket_id``'s run ``attempt``, in ``round``."""
    return OperationKey(ticket_id, attempt, kind, round).op_id


@dataclass(frozen=True, slots=True)
class Operation:
    """One entry of the step log: an operation as it was at ``at``.

    ``result`` is the JSON object its effect returned (empty until done); ``error`` says
    why a failed try failed.
    """

    key: OperationKey
    status: OperationStatus
    at: float
    result: dict[str, object] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", checked_moment(self.at, "at"))
        object.__setattr__(self, "result", checked_result(self.result))
        if self.error is not None:
            object.__setattr__(self, "error", checked_text(self.error, "error"))

    @property
    def op_id(self) -> str:
        return self.key.op_id

    @property
    def ticket_id(self) -> str:
        return self.key.ticket_id

    @property
    def kind(self) -> str:
        return self.key.kind


def checked_result(value: object) -> dict[str, object]:
    """A copy of ``value`` if it is a JSON object that reads back equal, else ``invalid_request``.

    Refused: keys that are not text, tuples and other values JSON would turn into
    something else, NaN and infinities, cycles.
    """
    try:
        text = json.dumps(value, allow_nan=False)
        copy = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        copy = None
    if not isinstance(value, Mapping) or not isinstance(copy, dict) or copy != value:
        raise InvalidRequest(
            "an operation's result must be a JSON object of text keys, numbers, text, "
            "booleans, null, lists and objects",
            details={"field": "result"},
        )
    return copy
