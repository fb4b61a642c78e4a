"""Human gates: a run parks until a person approves or rejects what it would do next.

``[orchestrator] plan_gate = true`` parks a run after its IntentPacket was accepted, before
a coder starts; ``merge_gate = true`` parks it after the reviewer approved, before the merge,
with a merge-ready dossier (:mod:`~yoi.orchestrator.gate_dossier`). While parked the run's
``gate`` names the gate (its reason is ``awaiting_plan_approval`` or
``awaiting_merge_approval``) and the dossier is on the ticket.

Every move is a step keyed like the others: ``<gate>_gate_open`` writes the dossier,
``<gate>_gate`` records the person's decision (and writes it on the ticket), so a restart
neither asks twice nor forgets an answer. An approval lets the run go on; a rejection stops
it (workers retired, worktree kept) and returns the ticket to planning. A plan approved
once is not asked again on a retry; a merge is approved per approved commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from yoi.errors import InvalidRequest, InvalidTransition
from yoi.orchestrator.branch_facts import branch_facts
from yoi.orchestrator.crew import Crew
from yoi.orchestrator.gate_dossier import (
    GateDecision,
    MergeDossier,
    render_decision,
    render_merge,
    render_plan,
)
from yoi.orchestrator.run_record import GATE_REJECTED, GATES, Run
from yoi.orchestrator.steps import Steps, intent_of
from yoi.orchestrator.ticket_validation import ticket_commands

__all__ = ["DECISIONS", "Gates"]

DECISIONS = ("approve", "reject")
_RECHECK = 1.0


class Gates:
    def __init__(self, crew: Crew, steps: Steps) -> None:
        self.crew = crew
        self.steps = steps

    # -- the run's side ---------------------------------------------------------------

    async def plan(self, run: Run) -> Run:
        """Before the coder starts: park at the plan gate (when it is on and no attempt of
        the ticket had its plan approved) until a person decides."""
        crew = self.crew
        if not crew.settings.plan_gate or run.coder_worker_id is not None:
            return run
        if (crew.earlier(run.ticket_id, "plan_gate") or {}).get("decision") == "approve":
            return await self.clear(run)
        return await self._park(run, "plan", 0)

    async def merge(self, run: Run) -> Run:
        """Before the approved commit merges: park at the merge gate (when it is on) until
        a person decides."""
        if not self.crew.settings.merge_gate:
            return run
        return await self._park(run, "merge", self.crew.rounds(run, "code")[-1])

    async def _park(self, run: Run, gate: str, round_: int) -> Run:
        crew = self.crew
        if crew.done(run, f"{gate}_gate", round_) is None:
            if crew.done(run, f"{gate}_gate_open", round_) is None or run.gate != gate:

                async def write() -> dict[str, object]:
                    return await self._open(run, gate)

                await crew.step(run, f"{gate}_gate_open", write, round_=round_)
                run = await crew.save(dataclasses.replace(run, gate=gate))
            await self._decided(run, gate, round_)
        current = crew.state.run(run.ticket_id) or run
        decided = crew.done(current, f"{gate}_gate", round_) or {}
        if decided.get("decision") == "reject":
            return await self.reject(current, gate, round_)
        return await self.clear(current)

    async def _decided(self, run: Run, gate: str, round_: int) -> None:
        """Wait for the person's decision (a change of any run wakes the check)."""
        crew = self.crew
        while crew.done(run, f"{gate}_gate", round_) is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_RECHECK), crew.changes:
                    await crew.changes.wait()

    async def clear(self, run: Run) -> Run:
        """The run no longer waits at a gate (saved so, when it did)."""
        current = self.crew.state.run(run.ticket_id) or run
        if current.gate is None:
            return current
        return await self.crew.save(dataclasses.replace(current, gate=None))

    async def _open(self, run: Run, gate: str) -> dict[str, object]:
        crew = self.crew
        if gate == "plan":
            body = render_plan(run.ticket_id, str(run.branch), intent_of(crew, run.ticket_id))
        else:
            body = render_merge(await self._dossier(run))
        await crew.record(lambda: crew.recorder.gate_opened(run.ticket_id, body))
        return {"opened_at": crew.clock(), "dossier": body}

    async def _dossier(self, run: Run) -> MergeDossier:
        crew = self.crew
        current = crew.rounds(run, "code")[-1]
        coded = crew.done(run, "code", current) or {}
        reviewed = crew.done(run, "review", current) or {}
        detail = await crew.record(lambda: crew.tickets.get(run.ticket_id))
        commands = crew.settings.validation
        if crew.settings.ticket_validation:
            commands = (*commands, *ticket_commands(detail.body))
        facts = await branch_facts(crew.worktrees / str(run.workdir_id), str(run.base_commit))
        return MergeDossier(
            ticket_id=run.ticket_id,
            title=detail.meta.title,
            branch=str(run.branch),
            commit=str(run.approved_commit),
            base=str(run.base_commit),
            attempt=run.attempt,
            review_rounds=run.review_round,
            fix_rounds=run.fix_rounds,
            facts=facts,
            packet=intent_of(crew, run.ticket_id),
            summary=_text(coded.get("summary")),
            reported=_texts(coded.get("reported")),
            review=_text(reviewed.get("summary")),
            findings=_texts(reviewed.get("findings")),
            validation=tuple(commands),
        )

    # -- the person's side -------------------------------------------------------------

    def waiting(self, run: Run) -> dict[str, object] | None:
        """The gate the run is parked at, with when it opened and its dossier."""
        if run.gate is None or run.phase.over:
            return None
        round_ = self.round_of(run, run.gate)
        opened = self.crew.done(run, f"{run.gate}_gate_open", round_) or {}
        return {
            "gate": run.gate,
            "opened_at": opened.get("opened_at"),
            "dossier": opened.get("dossier"),
        }

    async def decide(
        self, run: Run, gate: str, decision: str, *, by: str, note: str | None = None
    ) -> None:
        """Record a person's decision at the gate the run is parked at; ``invalid_request``
        for an unknown gate or decision, ``invalid_transition`` when it is not parked there."""
        if gate not in GATES:
            raise InvalidRequest("gate must be plan or merge", details={"field": "gate"})
        if decision not in DECISIONS:
            raise InvalidRequest(
                "decision must be approve or reject", details={"field": "decision"}
            )
        if run.gate != gate:
            where = "no gate" if run.gate is None else f"the {run.gate} gate"
            raise InvalidTransition(
                f"the run of {run.ticket_id} waits at {where}, not the {gate} gate",
                details={"ticket_id": run.ticket_id, "gate": run.gate},
            )
        crew = self.crew
        said = GateDecision(gate, decision, by, note)
        body = render_decision(run.ticket_id, said)

        async def record() -> dict[str, object]:
            await crew.record(lambda: crew.recorder.gate_decided(run.ticket_id, body))
            return {"decision": decision, "by": by, "note": note}

        await crew.step(run, f"{gate}_gate", record, round_=self.round_of(run, gate))

    async def reject(self, run: Run, gate: str, round_: int) -> Run:
        """A rejected run: the ticket back in planning, the run stopped, its worktree kept."""
        crew = self.crew
        decided = crew.done(run, f"{gate}_gate", round_) or {}
        by = str(decided.get("by") or "a person")

        async def back() -> dict[str, object]:
            await crew.record(lambda: crew.recorder.rejected(run.ticket_id, gate))
            return {}

        await crew.step(run, f"{gate}_gate_return", back, round_=round_)
        reason = [f"the {gate} gate was rejected"]
        if note := decided.get("note"):
            reason.append(f"note: {note}")
        return await self.steps.stop(run, GATE_REJECTED, reason, by=by)

    def round_of(self, run: Run, gate: str) -> int:
        """The round of the gate's latest opening in the run's attempt."""
        opened = self.crew.rounds(run, f"{gate}_gate_open")
        return opened[-1] if opened else 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()
