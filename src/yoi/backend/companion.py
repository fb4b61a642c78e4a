"""The Companion: the backend's own assistant, a worker on the embedded runtime.

At start the backend makes sure a worker ``companion`` exists on
``backend-internal`` with the builtin companion profile and no tools; with
the fs store it is the same worker, transcript and all, after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from yoi.backend.registry import RuntimeRegistry
from yoi.backend.views import Projection
from yoi.errors import WorkerNotFound
from yoi.runtime import AssistantIntent, CreateWorkerRequest, Input, Runtime

__all__ = ["COMPANION_ID", "Companion", "ModelLabel"]

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
        """Create the companion worker unless the runtime already holds it."""
        try:
            await self._runtime.get_worker(COMPANION_ID)
        except WorkerNotFound:
            await self._runtime.create_worker(
                CreateWorkerRequest(
                    worker_id=COMPANION_ID,
                    display_name="Companion",
                    intent=AssistantIntent(purpose="help the people of this workspace"),
                    profile="builtin:companion",
                )
            )

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
