"""What a store keeps about a runtime and its workers, besides logs."""

from __future__ import annotations

from dataclasses import dataclass, field

from yoi.runtime.requests import CapabilityRequest, Intent
from yoi.runtime.status import WorkerStatus
from yoi.tools.scope import Grant

__all__ = ["RuntimeRecord", "WorkerRecord"]


@dataclass(frozen=True, slots=True)
class RuntimeRecord:
    runtime_id: str
    display_name: str
    created_at: float


@dataclass(slots=True)
class WorkerRecord:
    """A worker's identity and counters. The runtime mutates it; the store snapshots it."""

    worker_id: str
    display_name: str
    intent: Intent
    profile: str
    created_at: float
    capabilities: tuple[CapabilityRequest, ...] = ()
    tools: tuple[str, ...] = ()
    config_bundle: str | None = None
    workdir: str | None = None
    """The workdir its tools reach, if any."""
    grant: Grant | None = None
    """What its tools may do there: its profile's grant, narrowed by its create request."""
    status: WorkerStatus = WorkerStatus.IDLE
    last_seq: int = 0
    transcript_total: int = 0
    runs: int = 0
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
