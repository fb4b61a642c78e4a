"""The Companion: the backend's own assistant, a worker on the embedded runtime.

At start the backend makes sure a worker ``companion`` exists on
``backend-internal`` with the builtin companion profile, whose tools are the
workspace's ticket tools (:mod:`yoi.backend.workspace_tools`; it never queues); with
the fs store it is the same worker, transcript and all, after a restart.
It is never stopped (``worker_protected``: cancel its reply instead), and
one stopped by an older version is reopened at start, history and all.
"""

from __future__ import annotations

from dataclasses import dataclass

from yoi.backend.policy import Operation, Policy
from yoi.backend.registry import RuntimeRegistry
from yoi.backend.views import Projection
from yoi.errors import WorkerNotFound, WorkerProtected
from yoi.runtime import AssistantIntent, CreateWorkerRequest, Input, Runtime, WorkerStatus

__all__ = ["COMPANION_ID", "Companion", "KeepsCompanion", "ModelLabel"]

COMPANION_ID = "companion"


@dataclass(frozen=True, slots=True)
class ModelLabel:
    """Which model answers, for people: ``openai:gpt-4o-mini``, never a key or an endpoint."""

    reference: str
    offline: bool


class Companion:
    def __init__(self, runtime: Runtime, registry: RuntimeRegistry, model: ModelLabel) -> None:
        self._runtime = runtime
        self._registry = registry
        self._model = model

    @property
    def runtime_id(self) -> str:
        return self._runtime.runtime_id

    async def ensure(self) -> None:
        """Create the companion worker unless the runtime already holds it; reopen it if
        it was stopped."""
        try:
            worker = await self._runtime.get_worker(COMPANION_ID)
        except WorkerNotFound:
            await self._runtime.create_worker(
                CreateWorkerRequest(
                    worker_id=COMPANION_ID,
                    display_name="Companion",
                    intent=AssistantIntent(purpose="help the people of this workspace"),
                    profile="builtin:companion",
                )
            )
            return
        if worker.status is WorkerStatus.STOPPED:
            await self._runtime.reopen_worker(COMPANION_ID)

    async def describe(self) -> Projection:
        worker = await self._registry.get_worker(self.runtime_id, COMPANION_ID)
        return {
            "runtime_id": self.runtime_id,
            "worker_id": COMPANION_ID,
            "display_name": worker["display_name"],
            "status": worker["status"],
            "model": self._model.reference,
            "offline": self._model.offline,
        }

    async def send(self, item: Input) -> Projection:
        return await self._registry.send_input(self.runtime_id, COMPANION_ID, item)


class KeepsCompanion:
    """A policy that refuses to stop the Companion and leaves the rest to ``inner``."""

    def __init__(self, runtime: Runtime, inner: Policy) -> None:
        self._runtime = runtime
        self._inner = inner

    async def admit(self, operation: Operation) -> None:
        if (
            operation.name == "stop_worker"
            and operation.worker_id == COMPANION_ID
            and operation.runtime_id == self._runtime.runtime_id
        ):
            raise WorkerProtected(
                "the Companion cannot be stopped: it is this backend's own assistant; "
                "cancel its reply instead"
            )
        await self._inner.admit(operation)

    def project(self, operation: Operation, projection: Projection) -> Projection:
        return self._inner.project(operation, projection)
