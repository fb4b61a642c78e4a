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
    "Input",
    "Intent",
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
class CreateWorkerRequest:
    """Everything is optional: ``CreateWorkerRequest()`` is an assistant on the default profile."""

    worker_id: str | None = None
    display_name: str | None = None
    intent: Intent = field(default_factory=AssistantIntent)
    profile: str = "runtime_default"
    config_bundle: ConfigBundleRef | None = None
    requested_capabilities: tuple[CapabilityRequest, ...] = ()
    initial_input: str | None = None


@dataclass(frozen=True, slots=True)
class Input:
    """A user input. ``on_busy`` says what happens when the worker is running."""

    content: str
    on_busy: OnBusy = OnBusy.REJECT
    kind: Literal["user"] = "user"
