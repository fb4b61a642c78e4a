"""What callers ask of a runtime: create a worker, send it input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from yoi.runtime.busy import OnBusy

__all__ = [
    "AssistantIntent",
    "CapabilityRequest",
    "ConfigBundleRef",
    "CreateWorkerRequest",
    "GrantRequest",
    "Input",
    "Intent",
    "NewWorkdir",
    "RoleIntent",
    "TaskIntent",
]


@dataclass(frozen=True, slots=True)
class AssistantIntent:
    kind: Literal["assistant"] = "assistant"
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class TaskIntent:
    objective: str
    kind: Literal["task"] = "task"


@dataclass(frozen=True, slots=True)
class RoleIntent:
    role: str
    purpose: str | None = None
    kind: Literal["role"] = "role"


Intent = AssistantIntent | TaskIntent | RoleIntent


@dataclass(frozen=True, slots=True)
class CapabilityRequest:
    name: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ConfigBundleRef:
    digest: str


@dataclass(frozen=True, slots=True)
class NewWorkdir:
    """Make a workdir for the new worker: of ``repository`` (``None``: the runtime's first
    allowed repository) at ``base``, on a new ``branch`` (``None``: detached), named
    ``workdir_id`` (``None``: the runtime names it; a name it holds is ``workdir_exists``)."""

    base: str = "HEAD"
    repository: str | None = None
    branch: str | None = None
    workdir_id: str | None = None


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """What a create request asks of its profile's grant: fewer capability bits (``None``: all
    the profile's), or sub-paths of the workdir. It narrows, never widens."""

    capabilities: tuple[str, ...] | None = None
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CreateWorkerRequest:
    """Everything is optional: ``CreateWorkerRequest()`` is an assistant on the default profile."""

    worker_id: str | None = None
    display_name: str | None = None
    intent: Intent = field(default_factory=AssistantIntent)
    profile: str = "runtime_default"
    config_bundle: ConfigBundleRef | None = None
    requested_capabilities: tuple[CapabilityRequest, ...] = ()
    initial_input: str | None = None
    workdir: str | NewWorkdir | None = None
    """An existing workdir's id, or a :class:`NewWorkdir` to make one; the worker's file,
    search, shell and git tools reach only that workdir."""
    grant: GrantRequest | None = None


@dataclass(frozen=True, slots=True)
class Input:
    """A user input. ``on_busy`` says what happens when the worker is running."""

    content: str
    on_busy: OnBusy = OnBusy.REJECT
    kind: Literal["user"] = "user"
