"""What the orchestrator shows: its runs, the queued tickets that wait, and why.

Plain JSON-ready dictionaries for the backend API, the CLI's ``--json`` and the console.
No path, URL or token is in them: a run names its workers by ``runtime_id + worker_id``
and its work by branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from yoi.orchestrator.policy_decision import Decision, Explanation, Reason
from yoi.orchestrator.run_record import Run

__all__ = ["OrchestratorStatus", "Problem", "Waiting", "explanation_view", "run_view"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the orchestrator cannot start work now (no model, a busy integration branch)."""

    code: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Waiting:
    """A queued ticket that has not started, with the one sentence that says why."""

    ticket_id: str
    title: str
    routing: str
    sentence: str
    reason: str = "waiting_capacity"
    """One of :class:`~yoi.orchestrator.reasons.WaitReason`."""

    def to_dict(self) -> dict[str, object]:
        return {
            "ticket_id": self.ticket_id,
            "title": self.title,
            "routing": self.routing,
            "reason": self.reason,
            "sentence": self.sentence,
        }


@dataclass(frozen=True, slots=True)
class OrchestratorStatus:
    enabled: bool
    target_branch: str
    max_parallel: int
    runs: tuple[dict[str, object], ...] = ()
    waiting: tuple[Waiting, ...] = ()
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ready(self) -> bool:
        """Whether queued tickets can start now (on, and nothing in the way)."""
        return self.enabled and not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "ready": self.ready,
            "target_branch": self.target_branch,
            "max_parallel": self.max_parallel,
            "problems": [problem.to_dict() for problem in self.problems],
            "runs": list(self.runs),
            "waiting": [waiting.to_dict() for waiting in self.waiting],
        }


def run_view(run: Run, *, title: str, runtime_id: str) -> dict[str, object]:
    """A run as people see it; its workers on ``runtime_id``."""
    return {
        "ticket_id": run.ticket_id,
        "title": title,
        "attempt": run.attempt,
        "phase": str(run.phase),
        "over": run.phase.over,
        "review_round": run.review_round,
        "fix_rounds": run.fix_rounds,
        "branch": run.branch,
        "head_commit": run.head_commit,
        "approved_commit": run.approved_commit,
        "coder": _worker(runtime_id, run.coder_worker_id),
        "reviewer": _worker(runtime_id, run.reviewer_worker_id),
        "stop_reason": run.stop_reason,
        "started_at": run.started_at,
        "updated_at": run.updated_at,
    }


def explanation_view(explanation: Explanation) -> dict[str, object]:
    decision = explanation.decision
    return {
        "ticket_id": explanation.ticket_id,
        "state": str(explanation.state),
        "sentence": explanation.sentence,
        "reasons": _reasons(explanation.reasons),
        "decision": None if decision is None else _decision(decision),
    }


def _worker(runtime_id: str, worker_id: str | None) -> dict[str, str] | None:
    return None if worker_id is None else {"runtime_id": runtime_id, "worker_id": worker_id}


def _reasons(reasons: Sequence[Reason]) -> list[dict[str, object]]:
    return [
        {
            "code": str(reason.code),
            "ticket_id": reason.ticket_id,
            "detail": reason.detail,
            "state": None if reason.state is None else str(reason.state),
        }
        for reason in reasons
    ]


def _decision(decision: Decision) -> dict[str, object]:
    return {
        "routing": str(decision.routing),
        "reason": decision.reason,
        "evidence": list(decision.evidence),
        "next_action": decision.next_action,
        "escalate_if": decision.escalate_if,
    }
