"""Rebuilding the orchestrator's state from the tickets when its database is lost.

The tickets are the record: an acceptance (its ``accepted_plan`` with branch and worktree,
its decision with the IntentPacket), a kickoff (the pinned base commit), the move to
``done``. From them each ticket the orchestrator took on gets a run again, with the steps
those records prove done marked done, so that nothing they did is done twice: the intake is
not asked again, the names are kept, and the coder (found by its name) is not asked again
for what its transcript already holds. A ticket in progress goes back to implementing; one
that is done is a done run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from yoi.errors import InvalidRequest
from yoi.orchestrator.asks import Answer
from yoi.orchestrator.operations import OperationKey
from yoi.orchestrator.records import ACCEPTANCE_REASON, AUTHOR
from yoi.orchestrator.records_decision import parse_decision
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, hold_state, state_path
from yoi.tickets import PlanKind, State, TicketDetail, TicketStore
from yoi.tickets.model import EventKind, ThreadEvent
from yoi.tools.intent import IntakeReport, IntentPacket, intake_json

__all__ = ["Rebuilt", "rebuild", "rebuild_workspace"]

_BASE = re.compile(r"^- Base commit: `([0-9a-f]{40})`$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What a rebuild made: runs by ticket and phase, and tickets it could not read."""

    runs: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "runs": [{"ticket_id": t, "phase": p} for t, p in self.runs],
            "skipped": [{"ticket_id": t, "reason": r} for t, r in self.skipped],
        }


def rebuild(state: OrchestratorState, tickets: TicketStore, clock: Callable[[], float]) -> Rebuilt:
    """Give every ticket the orchestrator accepted a run in ``state`` (which should be new
    and empty: a ticket that has a run already is left as it is)."""
    runs: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for ticket_id, meta in sorted(tickets.catalog().metas.items()):
        if meta.state not in (State.INPROGRESS, State.DONE) or state.run(ticket_id) is not None:
            continue
        detail = tickets.get(ticket_id)
        try:
            found = _run_of(detail, clock())
        except InvalidRequest as error:
            skipped.append((ticket_id, error.message))
            continue
        if found is None:
            continue
        run, packet = found
        _restore(state, run, packet)
        runs.append((ticket_id, str(run.phase)))
    return Rebuilt(tuple(runs), tuple(skipped))


def _run_of(detail: TicketDetail, now: float) -> tuple[Run, IntentPacket] | None:
    """The run the ticket's records prove, with its IntentPacket; ``None`` when the
    orchestrator never accepted it (a person moved it)."""
    if not any(_accepted(event) for event in detail.events):
        return None
    plans = [p for p in detail.plans if p.kind is PlanKind.ACCEPTED_PLAN and p.author == AUTHOR]
    if not plans:
        raise InvalidRequest("accepted, but its accepted_plan record is missing")
    plan = plans[-1].accepted_plan
    branch, worktree = plan.get("branch"), plan.get("worktree")
    if not isinstance(branch, str) or not isinstance(worktree, str):
        raise InvalidRequest("its accepted_plan names no branch and worktree")
    packet = _packet(detail)
    done = detail.meta.state is State.DONE
    base = _base(detail)
    run = Run(
        ticket_id=detail.id,
        attempt=1,
        phase=Phase.DONE if done else Phase.IMPLEMENTING,
        started_at=now,
        updated_at=now,
        workdir_id=PurePosixPath(worktree).name,
        branch=branch,
        base_commit=base,
    )
    return run, packet


def _accepted(event: ThreadEvent) -> bool:
    """The move ``queued → inprogress`` the orchestrator made when it accepted the ticket."""
    return (
        event.kind == EventKind.STATE_CHANGED
        and event.author == AUTHOR
        and event.attr("reason") == ACCEPTANCE_REASON
    )


def _packet(detail: TicketDetail) -> IntentPacket:
    for event in reversed(detail.events):
        if event.kind != EventKind.DECISION or event.author != AUTHOR:
            continue
        try:
            decision = parse_decision(event.body)
        except InvalidRequest:
            continue
        if decision.intent is not None:
            return decision.intent
    raise InvalidRequest("accepted, but no decision holds its IntentPacket")


def _base(detail: TicketDetail) -> str | None:
    for event in reversed(detail.events):
        if event.kind == EventKind.IMPLEMENTATION_REPORT and event.author == AUTHOR:
            found = _BASE.search(event.body)
            if found is not None:
                return found.group(1)
    return None


def _restore(state: OrchestratorState, run: Run, packet: IntentPacket) -> None:
    """Save the run, then mark done the steps its ticket's records prove."""
    state.save(run)
    name = str(run.branch).removeprefix("work/")
    answer = Answer(
        "rebuilt", "completed", "submit_intent", intake_json(IntakeReport(True, packet))
    )
    proven: list[tuple[str, dict[str, object]]] = [
        ("name", {"name": name}),
        ("intake", answer.to_dict()),
        ("accept", {"branch": str(run.branch)}),
    ]
    if run.base_commit is not None:
        proven.append(("base", {"base": run.base_commit}))
    for kind, result in proven:
        key = OperationKey(run.ticket_id, run.attempt, kind)
        state.begin(key)
        state.finish(key, result)


def rebuild_workspace(
    root: Path, tickets: TicketStore, clock: Callable[[], float] = time.time
) -> Rebuilt:
    """Rebuild the state of the workspace at ``root`` from its tickets. Refused with
    ``store_locked`` while an orchestrator (a running ``yoi serve``) has it open, and with
    ``invalid_request`` when the state still holds runs: it is not lost."""
    path = state_path(root)
    lock = hold_state(path)
    try:
        with OrchestratorState.open(path) as state:
            held = state.runs()
            if held:
                raise InvalidRequest(
                    f"the orchestrator's state holds {len(held)} run(s): it is not lost; "
                    f"move {path.name} away first to rebuild it from the tickets",
                    details={"runs": len(held)},
                )
            return rebuild(state, tickets, clock)
    finally:
        lock.release()
