"""The orchestrator: queued tickets taken through coder and reviewer workers to ``done``.

Its parts, each usable alone: the pure :mod:`~yoi.orchestrator.policy` (which queued ticket
may start, and why the others wait), the durable :mod:`~yoi.orchestrator.state` (runs and an
append-only step log keyed by operation ids), the :mod:`~yoi.orchestrator.records` it writes
on tickets in the original format, the git side (:mod:`~yoi.orchestrator.integration`,
:mod:`~yoi.orchestrator.validation`, :mod:`~yoi.orchestrator.branch_facts`), and what it reads
back from workers (:mod:`~yoi.orchestrator.submissions`, :mod:`~yoi.orchestrator.runs`).
"""

from yoi.orchestrator.branch_facts import BranchFacts, branch_facts
from yoi.orchestrator.integration import Integration
from yoi.orchestrator.operations import OperationKey
from yoi.orchestrator.policy import decide, explain
from yoi.orchestrator.policy_decision import Decision, Pass, Routing
from yoi.orchestrator.policy_inputs import PolicyConfig, RunInFlight, Snapshot, TicketFacts
from yoi.orchestrator.records import TicketRecorder
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.runs import await_run, finished_run
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.orchestrator.submissions import Submission, read_submission
from yoi.orchestrator.validation import ValidationResult, run_validation

__all__ = [
    "BranchFacts",
    "Decision",
    "Integration",
    "OperationKey",
    "OrchestratorSettings",
    "OrchestratorState",
    "Pass",
    "Phase",
    "PolicyConfig",
    "Routing",
    "Run",
    "RunInFlight",
    "Snapshot",
    "Submission",
    "TicketFacts",
    "TicketRecorder",
    "ValidationResult",
    "await_run",
    "branch_facts",
    "decide",
    "explain",
    "finished_run",
    "read_submission",
    "run_validation",
    "state_path",
]
