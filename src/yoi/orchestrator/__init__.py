"""The orchestrator: queued tickets taken through coder and reviewer workers to ``done``.

:class:`Orchestrator` is the service ``yoi serve`` runs (or any program embeds): give it the
repository, its ticket store and the runtimes (:class:`Hosts`; :class:`StaticHosts` for a
fixed mapping) the :class:`Roles` play on. Its parts, each usable alone: the pure
:mod:`~yoi.orchestrator.policy` (which queued ticket
may start, and why the others wait), the durable :mod:`~yoi.orchestrator.state` (runs and an
append-only step log keyed by operation ids), the :mod:`~yoi.orchestrator.records` it writes
on tickets in the original format, the git side (:mod:`~yoi.orchestrator.integration`,
:mod:`~yoi.orchestrator.validation`, :mod:`~yoi.orchestrator.branch_facts`), and what it reads
back from workers (:mod:`~yoi.orchestrator.submissions`, :mod:`~yoi.orchestrator.runs`).
"""

from yoi.orchestrator.branch_facts import BranchFacts, branch_facts
from yoi.orchestrator.hosts import Hosts, StaticHosts, WorkerHost
from yoi.orchestrator.integration import Integration
from yoi.orchestrator.operations import OperationKey
from yoi.orchestrator.policy import decide, explain
from yoi.orchestrator.policy_decision import Decision, Pass, Routing
from yoi.orchestrator.policy_inputs import PolicyConfig, RunInFlight, Snapshot, TicketFacts
from yoi.orchestrator.rebuild import Rebuilt, rebuild, rebuild_workspace
from yoi.orchestrator.records import TicketRecorder
from yoi.orchestrator.roles import Roles
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.runs import await_run, finished_run
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.orchestrator.submissions import Submission, read_submission
from yoi.orchestrator.validation import ValidationResult, run_validation
from yoi.orchestrator.views import OrchestratorStatus, Problem, Waiting, explanation_view, run_view

__all__ = [
    "BranchFacts",
    "Decision",
    "Hosts",
    "Integration",
    "OperationKey",
    "Orchestrator",
    "OrchestratorSettings",
    "OrchestratorState",
    "OrchestratorStatus",
    "Pass",
    "Phase",
    "PolicyConfig",
    "Problem",
    "Rebuilt",
    "Roles",
    "Routing",
    "Run",
    "RunInFlight",
    "Snapshot",
    "StaticHosts",
    "Submission",
    "TicketFacts",
    "TicketRecorder",
    "ValidationResult",
    "Waiting",
    "WorkerHost",
    "await_run",
    "branch_facts",
    "decide",
    "explain",
    "explanation_view",
    "finished_run",
    "read_submission",
    "rebuild",
    "rebuild_workspace",
    "run_validation",
    "run_view",
    "state_path",
]
