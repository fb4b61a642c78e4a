"""A runtime as the backend sees it: something that answers the runtime API, and may be down.

:class:`RuntimeApi` is what :class:`~yoi.runtime.Runtime` and
:class:`~yoi.client.RuntimeClient` both offer, so a source hands operations
to either one. A source adds what the backend needs around it: an id the
backend's configuration gives, availability, a browser-safe view, the
workspace's config bundle, and errors in the backend's vocabulary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar, Protocol, TypeVar

from yoi.backend.views import Availability, RuntimeView, SourceKind
from yoi.errors import RuntimeUnavailable, YoiError
from yoi.runtime import (
    ApprovalAck,
    BundleSummary,
    CancelAck,
    ConfigBundle,
    ConfigBundleRef,
    CreateWorkerRequest,
    Diagnostic,
    Event,
    EventPage,
    Input,
    InputAck,
    RuntimeSummary,
    StopAck,
    TranscriptPage,
    WorkerDetail,
    WorkerPage,
    WorkerStatus,
)

__all__ = ["Observation", "RuntimeApi", "RuntimeSource"]

T = TypeVar("T")


class RuntimeApi(Protocol):
    async def summary(self) -> RuntimeSummary: ...
    async def diagnostics(self) -> list[Diagnostic]: ...
    async def create_worker(self, request: CreateWorkerRequest | None = None) -> WorkerDetail: ...
    async def get_worker(self, worker_id: str) -> WorkerDetail: ...
    async def list_workers(
        self,
        *,
        status: WorkerStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> WorkerPage: ...
    async def send_input(self, worker_id: str, item: Input | str) -> InputAck: ...
    async def stop_worker(self, worker_id: str, reason: str | None = None) -> StopAck: ...
    async def cancel_worker(self, worker_id: str) -> CancelAck: ...
    async def answer_approval(
        self, worker_id: str, approval_id: str, decision: str
    ) -> ApprovalAck: ...
    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage: ...
    async def config_bundles(self) -> tuple[BundleSummary, ...]: ...
    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage: ...
    async def subscribe(self, worker_id: str, cursor: str | None = None) -> Observation: ...
    async def delete_workdir(
        self, workdir_id: str, *, force: bool = False
    ) -> Mapping[str, object]: ...


class Observation(Protocol):
    """A worker's observation stream: a snapshot, the backlog, live events."""

    def __aiter__(self) -> Observation: ...
    async def __anext__(self) -> Event: ...
    async def aclose(self) -> None: ...


class RuntimeSource(ABC):
    kind: ClassVar[SourceKind]

    def __init__(self, runtime_id: str, display_name: str | None = None) -> None:
        self.runtime_id = runtime_id
        self.display_name = display_name
        self.bundle: ConfigBundleRef | None = None
        """The workspace bundle once this runtime holds it; creates name it."""

    @property
    @abstractmethod
    def status(self) -> Availability: ...

    @abstractmethod
    async def start(self, bundle: ConfigBundle) -> None:
        """Begin serving: hand the runtime the workspace's bundle when it can take it."""

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def describe(self) -> RuntimeView:
        """The runtime's view now; never raises for a runtime that is down."""

    @abstractmethod
    async def call(self, operation: Callable[[RuntimeApi], Awaitable[T]]) -> T:
        """Run ``operation`` on the runtime, its failures in the backend's vocabulary."""

    @abstractmethod
    async def subscribe(self, worker_id: str, cursor: str | None) -> Observation:
        """Open the worker's observation stream after the runtime ``cursor``."""

    async def create_worker(self, request: CreateWorkerRequest) -> WorkerDetail:
        return await self.call(lambda api: api.create_worker(request))

    def unavailable_error(self) -> YoiError:
        """Why the runtime cannot be used now, as the error a call would raise."""
        return RuntimeUnavailable(
            f"runtime {self.runtime_id} is unavailable", details={"runtime_id": self.runtime_id}
        )
