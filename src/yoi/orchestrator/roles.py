"""Who does the model's part of a run, and where: the intake, the coder and the reviewer.

Each role is a profile on a runtime. In ``yoi serve`` the intake (ticket-reading tools
only) runs on the embedded runtime and the coder and reviewer on the local one, whose
workdirs and sandbox they need; a program that embeds the orchestrator names its own.
Profiles are the runtime's builtin ones unless named otherwise (``yoi serve`` names the
workspace's, which a person may have overridden).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Roles", "worker_name"]


@dataclass(frozen=True, slots=True)
class Roles:
    intake_runtime: str = "backend-internal"
    work_runtime: str = "local"
    intake_profile: str = "builtin:orchestrator"
    coder_profile: str = "builtin:coder"
    reviewer_profile: str = "builtin:reviewer"


def worker_name(role: str, name: str, attempt: int = 1) -> str:
    """``yoi-<role>-<ID>-<slug>`` (``name`` is the run's ``<ID>-<slug>``) as a worker id:
    lower case, at most 64 characters, ``-a<N>`` at the end from the second attempt on."""
    suffix = "" if attempt == 1 else f"-a{attempt}"
    stem = f"yoi-{role}-{name.lower()}"[: 64 - len(suffix)].rstrip("-.")
    return f"{stem}{suffix}"
