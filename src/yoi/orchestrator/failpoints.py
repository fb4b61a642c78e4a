"""Failpoints: named places at the orchestrator's step boundaries where the process can be
made to die, so tests can prove a restart finishes the work with nothing done twice.

::

    YOI_FAILPOINT=merge.effect yoi serve ...

A failpoint is off unless ``YOI_FAILPOINT`` names it (a comma list names several); the
variable is read once, when the orchestrator's crew is made, and an unknown name refuses
the orchestrator's start with :class:`~yoi.errors.InvalidRequest`. A named point, when
reached, writes one line to stderr and ends the process at once with :data:`EXIT_CODE`
(``os._exit``: no cleanup, no flush of anything else — as a crash would).

Most points come in pairs around a step of :meth:`~yoi.orchestrator.crew.Crew.step`:
``<kind>.effect`` after the step's side effect ran but before it is recorded done, and
``<kind>.done`` right after it is recorded done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from yoi.errors import InvalidRequest

__all__ = ["ENVIRONMENT", "EXIT_CODE", "Failpoint", "Failpoints"]

ENVIRONMENT = "YOI_FAILPOINT"
EXIT_CODE = 86
"""The exit status of a process ended by a failpoint, unlike any other of ``yoi serve``."""


class Failpoint(StrEnum):
    ACCEPT_EFFECT = "accept.effect"
    """The acceptance (decision, plan, ``→ inprogress``) is on the ticket, not in the state."""
    ACCEPT_DONE = "accept.done"
    """The acceptance is recorded; the run is not yet saved as implementing."""
    CODER_EFFECT = "coder.effect"
    """The workdir and the coder exist; the state does not know it."""
    CODER_DONE = "coder.done"
    """The coder is recorded; its kickoff is not on the ticket."""
    KICKOFF_EFFECT = "kickoff.effect"
    """The kickoff is on the ticket, not in the state."""
    KICKOFF_DONE = "kickoff.done"
    """The kickoff is recorded; the coder has not been sent its input."""
    ASK_SENT = "ask.sent"
    """A worker (intake, coder or reviewer) was sent its input; its answer has not come."""
    CODE_EFFECT = "code.effect"
    """The coder answered and its report is on the ticket; the state does not know it."""
    CODE_DONE = "code.done"
    """The coder's round is recorded; the run is not yet saved as reviewing."""
    REVIEWER_EFFECT = "reviewer.effect"
    """The reviewer exists; the state does not know it."""
    REVIEWER_DONE = "reviewer.done"
    """The reviewer is recorded; it has not been sent its input."""
    REVIEW_EFFECT = "review.effect"
    """The review is on the ticket; the state does not know it."""
    REVIEW_DONE = "review.done"
    """The review is recorded; the run is not yet saved as merging."""
    MERGE_EFFECT = "merge.effect"
    """The merge commit is made on the integration worktree; the state does not know it."""
    MERGE_DONE = "merge.done"
    """The merge is recorded; the run is not yet saved as validating."""
    VALIDATE_EFFECT = "validate.effect"
    """The validation ran and its logs are stored; the state does not know it."""
    VALIDATE_DONE = "validate.done"
    """The validation is recorded; the integration branch has not moved."""
    ADVANCE_BEFORE_MOVE = "advance.before_move"
    """Inside the merge: the integration branch is about to move to the merge commit."""
    ADVANCE_AFTER_MOVE = "advance.after_move"
    """Inside the merge: the integration branch moved; nothing else knows yet."""
    ADVANCE_EFFECT = "advance.effect"
    """The branch moved; the state does not know it."""
    ADVANCE_DONE = "advance.done"
    """The move is recorded; the ticket is not yet ``done``."""
    INTEGRATE_EFFECT = "integrate.effect"
    """The integration report and ``→ done`` are on the ticket, not in the state."""
    INTEGRATE_DONE = "integrate.done"
    """``→ done`` is recorded; the run is not yet saved as cleaning up."""
    CLEANUP_EFFECT = "cleanup.effect"
    """The workers are retired and the workdir removed; the state does not know it."""
    CLEANUP_DONE = "cleanup.done"
    """The cleanup is recorded; the run is not yet saved as done."""


@dataclass(frozen=True, slots=True)
class Failpoints:
    """The failpoints armed in this process (none, unless the environment names some)."""

    armed: frozenset[str] = frozenset()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Failpoints:
        """The points ``YOI_FAILPOINT`` names; an unknown name is refused."""
        value = (os.environ if environ is None else environ).get(ENVIRONMENT, "")
        return cls(parse(value))

    def reach(self, name: str) -> None:
        """End the process here when ``name`` is armed; otherwise nothing."""
        if name in self.armed:
            _die(name)


def parse(value: str) -> frozenset[str]:
    """The failpoint names in a comma list (blanks around names and empty items ignored)."""
    names = {item.strip() for item in value.split(",")} - {""}
    known = {point.value for point in Failpoint}
    unknown = sorted(names - known)
    if unknown:
        raise InvalidRequest(
            f"{ENVIRONMENT} names unknown failpoints: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return frozenset(names)


def _die(name: str) -> None:
    sys.stderr.write(f"yoi: failpoint {name} reached; exiting with {EXIT_CODE}\n")
    sys.stderr.flush()
    os._exit(EXIT_CODE)
