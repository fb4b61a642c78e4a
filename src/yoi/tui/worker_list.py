"""The workers listing as the Workers screen shows it: rows from the backend's pages,
filtered by role, and the runtimes' one-line summaries. No widgets here."""

from __future__ import annotations

from dataclasses import dataclass, field

from yoi.client.backend import RuntimeInfo, WorkerListing

__all__ = ["ALL", "Listing", "Row", "runtime_cells"]

ALL = "all"
"""The filter value that keeps everything."""


@dataclass(frozen=True, slots=True)
class Row:
    runtime_id: str
    worker_id: str
    name: str
    status: str
    role: str
    """The role of a role worker, else its intent's kind (``assistant``, ``task``)."""
    profile: str
    model: str
    queued: int

    @property
    def key(self) -> str:
        return f"{self.worker_id}@{self.runtime_id}"

    def cells(self) -> tuple[str, ...]:
        queued = str(self.queued) if self.queued else ""
        return (
            self.name,
            self.runtime_id,
            self.status,
            self.role,
            self.profile,
            self.model,
            queued,
        )


COLUMNS = ("Worker", "Runtime", "Status", "Role", "Profile", "Model", "Queued")


@dataclass
class Listing:
    """The pages read so far of one server-side filter (runtime, status)."""

    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Runtimes that could not answer: ``runtime: code: message``."""
    next_after: str | None = None
    pages: int = 0

    def add(self, page: WorkerListing) -> None:
        known = {row.key for row in self.rows}
        for worker in page.workers:
            intent = worker.intent
            role = intent.role if intent.kind == "role" else intent.kind
            row = Row(
                runtime_id=worker.runtime_id,
                worker_id=worker.worker_id,
                name=worker.display_name,
                status=str(worker.status),
                role=role,
                profile=worker.profile,
                model=worker.model,
                queued=worker.queued_inputs,
            )
            if row.key not in known:
                self.rows.append(row)
                known.add(row.key)
        for item in page.diagnostics:
            line = f"{item.runtime_id}: {item.code}: {item.message}"
            if line not in self.problems:
                self.problems.append(line)
        self.next_after = page.next_after
        self.pages += 1

    @property
    def complete(self) -> bool:
        return self.pages > 0 and self.next_after is None

    def roles(self) -> list[str]:
        return sorted({row.role for row in self.rows})

    def visible(self, role: str = ALL) -> list[Row]:
        return [row for row in self.rows if role in (ALL, row.role)]


RUNTIME_COLUMNS = ("Runtime", "Kind", "Status", "Workers", "Busy", "Model", "Diagnostics")


def runtime_cells(runtime: RuntimeInfo) -> tuple[str, ...]:
    """One runtime's row: its status and what its diagnostics say."""
    diagnostics = "; ".join(f"{item.code}: {item.message}" for item in runtime.diagnostics)

    def number(value: int | None) -> str:
        return "?" if value is None else str(value)

    return (
        runtime.display_name,
        runtime.kind,
        runtime.status,
        number(runtime.worker_count),
        number(runtime.busy_count),
        runtime.model or "",
        diagnostics or "—",
    )
