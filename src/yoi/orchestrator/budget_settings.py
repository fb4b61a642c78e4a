"""The ``[orchestrator.budgets]`` table of ``.yoi/config.toml``: how much a ticket may use.

::

    [orchestrator.budgets]
    max_tokens = 2_000_000          # input + output tokens per ticket, over all its attempts
    max_cost_usd = 5.0              # US dollars per ticket (only where the cost is known)
    max_worktree_bytes = 20_000_000_000   # all worktrees together; new runs wait above it

Every key is optional (no key: no limit) and checked strictly: a mistake names its key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from yoi.errors import InvalidRequest
from yoi.orchestrator.usage_record import MAX_TOKENS

__all__ = ["Budgets"]

_KEYS = ("max_tokens", "max_cost_usd", "max_worktree_bytes")
_MAX_BYTES = 2**62
_MAX_DOLLARS = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Budgets:
    """The limits of one ticket's runs; ``None`` is no limit."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_worktree_bytes: int | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> Budgets:
        """The budgets of a whole config document; a missing table gives no limits."""
        table = document.get("orchestrator", {})
        if not isinstance(table, Mapping):
            raise _error("orchestrator", "must be a table")
        return cls.from_table(table.get("budgets", {}))

    @classmethod
    def from_table(cls, table: object) -> Budgets:
        if not isinstance(table, Mapping):
            raise _error("orchestrator.budgets", "must be a table")
        unknown = sorted(str(key) for key in table if key not in _KEYS)
        if unknown:
            raise _error(
                f"orchestrator.budgets.{unknown[0]}", f"is not a budget (known: {list(_KEYS)})"
            )
        return cls(
            max_tokens=_whole(table.get("max_tokens"), "max_tokens", MAX_TOKENS),
            max_cost_usd=_dollars(table.get("max_cost_usd")),
            max_worktree_bytes=_whole(
                table.get("max_worktree_bytes"), "max_worktree_bytes", _MAX_BYTES
            ),
        )

    def to_dict(self) -> dict[str, object]:
        """The budgets set, as the table would spell them (``from_table`` reads it back)."""
        return {name: getattr(self, name) for name in _KEYS if getattr(self, name) is not None}


def _error(key: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{key} {problem}", details={"field": key})


def _whole(value: object, key: str, most: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise _error(f"orchestrator.budgets.{key}", f"must be a whole number from 1 to {most}")
    return value


def _dollars(value: object) -> float | None:
    if value is None:
        return None
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= _MAX_DOLLARS
    ):
        raise _error(
            "orchestrator.budgets.max_cost_usd",
            f"must be a number of dollars above 0, at most {_MAX_DOLLARS:,.0f}",
        )
    return float(value)
