"""What one policy pass looks at: a snapshot of the tickets, their relations and plan records,
the runs in flight and the configuration, as plain values the loop hands in.

The policy reads nothing else: no files, no clock, no database. :meth:`Snapshot.of` builds
a snapshot from the tickets library's catalog; the plan records it needs are those of the
queued tickets and of the running ones (in progress, or with a run in flight): a record on
any other ticket holds nobody, so the loop need not read ten thousand plan files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from yoi.errors import InvalidRequest
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.tickets.index import Catalog
from yoi.tickets.model import PlanRecord, Relation, State

__all__ = ["OWN_AUTHORS", "PolicyConfig", "RunInFlight", "Snapshot", "TicketFacts", "surface_of"]

OWN_AUTHORS = frozenset({"orchestrator", "yoi-orchestrator"})
"""The names the orchestrator writes plan records under, upstream's and ours."""


def surface_of(paths: Iterable[str]) -> tuple[str, ...]:
    """Repository paths in one spelling (``./a//b/`` is ``a/b``; ``.`` or ``""`` is the whole
    tree), sorted and without repeats, so two surfaces compare by what they name."""
    return tuple(sorted({str(PurePosixPath(path)) for path in paths}))


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the policy knows of one ticket.

    ``write_surface`` holds the paths it is expected to change, when someone knows them
    (a directory covers everything below it); empty means unknown, which overlaps nothing.
    """

    id: str
    state: State
    title: str = ""
    queued_at: str | None = None
    write_surface: tuple[str, ...] = ()

    @property
    def queue_key(self) -> tuple[str, str]:
        """Queue order, as the board's ready view sorts: ``queued_at``, then id."""
        return (self.queued_at or "", self.id)


@dataclass(frozen=True, slots=True)
class RunInFlight:
    """A ticket run the orchestrator has begun and not finished.

    ``phase`` is the run's phase as the state store names it (``accepting``,
    ``implementing``, ...); the policy only shows it. ``write_surface`` holds the paths the
    run changes, when known (from its branch), else the ticket's expected surface is used.
    """

    ticket_id: str
    phase: str
    write_surface: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """``max_parallel`` bounds the tickets in progress at once; plan records written under
    one of ``own_authors`` are the orchestrator's own notes, and a ``blocked_by`` note of
    its own never holds a ticket (it records a relation, which the policy reads itself)."""

    max_parallel: int = 2
    own_authors: frozenset[str] = OWN_AUTHORS

    def __post_init__(self) -> None:
        if isinstance(self.max_parallel, bool) or self.max_parallel < 1:
            raise InvalidRequest(
                "max_parallel must be a whole number of at least 1",
                details={"field": "max_parallel"},
            )

    @classmethod
    def of(cls, settings: OrchestratorSettings) -> PolicyConfig:
        return cls(max_parallel=settings.max_parallel)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one pass decides from; ``relations`` maps an owner to its forward relations."""

    tickets: Mapping[str, TicketFacts]
    relations: Mapping[str, tuple[Relation, ...]] = field(default_factory=dict)
    plans: tuple[PlanRecord, ...] = ()
    runs: tuple[RunInFlight, ...] = ()
    config: PolicyConfig = field(default_factory=PolicyConfig)

    @classmethod
    def of(
        cls,
        catalog: Catalog,
        *,
        plans: Iterable[PlanRecord] = (),
        runs: Iterable[RunInFlight] = (),
        config: PolicyConfig | None = None,
        surfaces: Mapping[str, Iterable[str]] | None = None,
    ) -> Snapshot:
        """The snapshot of a catalog (a ticket whose ``item.md`` cannot be read is absent, as
        the ready view sees it); ``surfaces`` gives tickets' expected write surfaces."""
        known = {i: surface_of(paths) for i, paths in (surfaces or {}).items()}
        tickets = {
            ticket_id: TicketFacts(
                ticket_id, meta.state, meta.title, meta.queued_at, known.get(ticket_id, ())
            )
            for ticket_id, meta in catalog.metas.items()
        }
        return cls(
            tickets=tickets,
            relations=catalog.relations,
            plans=tuple(plans),
            runs=tuple(runs),
            config=config or PolicyConfig(),
        )

    def states(self) -> dict[str, State]:
        return {ticket_id: facts.state for ticket_id, facts in self.tickets.items()}
