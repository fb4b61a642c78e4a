"""Tokens and cost per worker, per run and per ticket, and the budgets they are held to.

The runtime counts each worker's usage (:attr:`~yoi.runtime.WorkerDetail.usage`, cumulative
over its life). :class:`Accounting` reads it for the workers of a run — the intake, the
coder, the reviewer — and keeps one row per worker in the orchestrator's state
(:meth:`~yoi.orchestrator.state.OrchestratorState.record_usage`), so the figures outlive the
workers and a restart, and a run's or a ticket's total is a sum over rows. Cost comes from
:func:`~.prices.price`: ``None`` (unknown) as soon as one worker's model has no known price.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from yoi.errors import YoiError
from yoi.orchestrator.budget_settings import Budgets
from yoi.orchestrator.hosts import Hosts, WorkerHost
from yoi.orchestrator.operations import OperationKey, OperationStatus
from yoi.orchestrator.prices import price
from yoi.orchestrator.roles import Roles, worker_name
from yoi.orchestrator.run_record import Run
from yoi.orchestrator.state import OrchestratorState
from yoi.orchestrator.usage_record import TOKEN_KINDS, WorkerUsage
from yoi.runtime.workdirs.disk_use import measure

__all__ = [
    "Accounting",
    "Breach",
    "UsageCrew",
    "cost_of",
    "usage_view",
    "worktree_bytes",
]

# The runtime's names for tokens read from a provider's cache (none counts them yet).
_CACHED_KEYS = ("cached_tokens", "cache_read_tokens")


class UsageCrew(Protocol):
    """What accounting needs of the orchestrator's :class:`~.crew.Crew`."""

    @property
    def state(self) -> OrchestratorState: ...

    @property
    def hosts(self) -> Hosts: ...

    @property
    def roles(self) -> Roles: ...


@dataclass(frozen=True, slots=True)
class Breach:
    """A ticket's totals crossed one of its budgets: which, its limit and the figures."""

    ticket_id: str
    budget: str
    """``max_tokens`` or ``max_cost_usd``."""
    limit: float
    used: float
    tokens: dict[str, int]
    cost_usd: float | None

    @property
    def message(self) -> str:
        if self.budget == "max_tokens":
            return f"used {int(self.used)} tokens, over its budget of {int(self.limit)}"
        return f"cost ${self.used:.4f}, over its budget of ${self.limit:.2f}"

    def to_dict(self) -> dict[str, object]:
        return {
            "ticket_id": self.ticket_id,
            "budget": self.budget,
            "limit": self.limit,
            "used": self.used,
            "tokens": dict(self.tokens),
            "cost_usd": self.cost_usd,
            "message": self.message,
        }


class Accounting:
    """Reads, keeps and checks the usage of runs. Cheap to call often: a worker whose
    figures did not change since the last call is not written again."""

    def __init__(self, crew: UsageCrew, budgets: Budgets | None = None) -> None:
        self._crew = crew
        self._budgets = budgets or Budgets()
        self._written: dict[tuple[str, int, str], WorkerUsage] = {}

    async def account(self, run: Run, budgets: Budgets | None = None) -> Breach | None:
        """Record the usage of ``run``'s workers, and return the budget its ticket has
        crossed (``budgets``, else the configured ones), if any.

        A worker that cannot be read now (gone, its runtime restarting) keeps the figures
        last recorded for it.
        """
        seen = await asyncio.gather(
            *(self._read(run, role, worker, host) for role, worker, host in self._workers(run))
        )
        fresh = [row for row in seen if row is not None and not self._unchanged(row)]
        if fresh:
            await asyncio.to_thread(self._crew.state.record_usage, fresh)
            for row in fresh:
                self._written[(row.ticket_id, row.attempt, row.worker_id)] = row
        rows = await asyncio.to_thread(self._crew.state.usage, run.ticket_id)
        return _breach(run.ticket_id, rows, budgets or self._budgets)

    def _workers(self, run: Run) -> list[tuple[str, str, WorkerHost]]:
        crew = self._crew
        found: list[tuple[str, str, WorkerHost]] = []
        named = crew.state.get(OperationKey(run.ticket_id, run.attempt, "name", 0))
        if named is not None and named.status is OperationStatus.DONE:
            intake = worker_name("intake", str(named.result["name"]), run.attempt)
            found.append(("intake", intake, crew.hosts.host(crew.roles.intake_runtime)))
        for role, worker in (("coder", run.coder_worker_id), ("reviewer", run.reviewer_worker_id)):
            if worker is not None:
                found.append((role, worker, crew.hosts.host(crew.roles.work_runtime)))
        return found

    async def _read(self, run: Run, role: str, worker: str, host: WorkerHost) -> WorkerUsage | None:
        try:
            detail = await host.get_worker(worker)
        except YoiError:
            return None
        usage = detail.usage
        cached = next((usage[key] for key in _CACHED_KEYS if key in usage), 0)
        return WorkerUsage(
            run.ticket_id,
            run.attempt,
            worker,
            role,
            detail.model,
            usage.get("input_tokens", 0),
            usage.get("output_tokens", 0),
            cached,
        )

    def _unchanged(self, row: WorkerUsage) -> bool:
        return self._written.get((row.ticket_id, row.attempt, row.worker_id)) == row


def cost_of(rows: list[WorkerUsage]) -> Decimal | None:
    """What the rows cost in dollars; ``None`` if the price of any of them is unknown."""
    total = Decimal(0)
    for row in rows:
        found = price(row.model, row.input_tokens, row.output_tokens, row.cached_tokens)
        if found is None:
            return None
        total += found
    return total


def _tokens(rows: list[WorkerUsage]) -> dict[str, int]:
    return {kind: sum(getattr(row, kind) for row in rows) for kind in TOKEN_KINDS}


def _dollars(cost: Decimal | None) -> float | None:
    return None if cost is None else float(cost)


def _breach(ticket_id: str, rows: list[WorkerUsage], budgets: Budgets) -> Breach | None:
    tokens = _tokens(rows)
    used = tokens["input_tokens"] + tokens["output_tokens"]
    cost = cost_of(rows) if budgets.max_cost_usd is not None else None
    if budgets.max_tokens is not None and used > budgets.max_tokens:
        return Breach(ticket_id, "max_tokens", budgets.max_tokens, used, tokens, _dollars(cost))
    if budgets.max_cost_usd is not None and cost is not None and cost > budgets.max_cost_usd:
        return Breach(
            ticket_id, "max_cost_usd", budgets.max_cost_usd, float(cost), tokens, float(cost)
        )
    return None


def _summary(rows: list[WorkerUsage]) -> dict[str, object]:
    return {**_tokens(rows), "cost_usd": _dollars(cost_of(rows))}


def usage_view(state: OrchestratorState, ticket_id: str) -> dict[str, object]:
    """The ticket's usage as JSON: each worker's tokens and cost, the latest attempt's (the
    run's) total and the ticket's over all attempts; a cost of ``null`` is unknown."""
    rows = state.usage(ticket_id)
    latest = max((row.attempt for row in rows), default=None)
    return {
        "workers": [
            {
                "worker_id": row.worker_id,
                "role": row.role,
                "attempt": row.attempt,
                "model": row.model,
                **_summary([row]),
            }
            for row in rows
        ],
        "run": _summary([row for row in rows if row.attempt == latest]),
        "total": _summary(rows),
    }


def worktree_bytes(folder: Path) -> int:
    """The bytes the worktrees under ``folder`` take on disk (0 when it is missing)."""
    return measure(folder).bytes
