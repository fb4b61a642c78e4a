"""What the orchestrator needs of runtimes, and nothing more.

The orchestrator never imports the backend: it asks a :class:`Hosts` for the runtime it
wants by id and drives its workers through :class:`WorkerHost`. An embedded
:class:`~yoi.runtime.Runtime` and a :class:`~yoi.client.RuntimeClient` are both worker
hosts; ``yoi serve`` hands the orchestrator one that routes through its registry, so a
runtime that restarts (the local one) is reached wherever it now listens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from yoi.errors import RuntimeNotFound
from yoi.orchestrator.runs import EventStream
from yoi.runtime import CancelAck, CreateWorkerRequest, Input, InputAck, StopAck, WorkerDetail
from yoi.runtime.transcript import TranscriptPage
from yoi.runtime.views import EventPage

__all__ = ["Hosts", "StaticHosts", "WorkerHost"]


class WorkerHost(Protocol):
    """One runtime, as the orchestrator uses it."""

    async def create_worker(self, request: CreateWorkerRequest | None = None) -> WorkerDetail: ...

    async def get_worker(self, worker_id: str) -> WorkerDetail: ...

    async def send_input(self, worker_id: str, item: Input | str) -> InputAck: ...

    async def stop_worker(self, worker_id: str, reason: str | None = None) -> StopAck: ...

    async def cancel_worker(self, worker_id: str) -> CancelAck: ...

    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage: ...

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage: ...

    async def subscribe(self, worker_id: str, cursor: str | None = None) -> EventStream: ...

    async def delete_workdir(
        self, workdir_id: str, *, force: bool = False
    ) -> Mapping[str, object]: ...


class Hosts(Protocol):
    """The runtimes the orchestrator may use, by id."""

    def host(self, runtime_id: str) -> WorkerHost:
        """The runtime ``runtime_id``; ``runtime_not_found`` when there is none."""
        ...


class StaticHosts:
    """Hosts from a fixed mapping (tests, the demo, an embedding program)."""

    def __init__(self, hosts: Mapping[str, WorkerHost]) -> None:
        self._hosts = dict(hosts)

    def host(self, runtime_id: str) -> WorkerHost:
        found = self._hosts.get(runtime_id)
        if found is None:
            raise RuntimeNotFound(f"no runtime {runtime_id}", details={"runtime_id": runtime_id})
        return found
