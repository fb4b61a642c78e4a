"""The runtime in the backend's own process: direct library calls, no HTTP, token or socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from yoi.backend.sources import Observation, RuntimeApi, RuntimeSource
from yoi.backend.views import Availability, RuntimeView
from yoi.runtime import ConfigBundle, ConfigBundleRef, Runtime

__all__ = ["EmbeddedSource"]

T = TypeVar("T")


class EmbeddedSource(RuntimeSource):
    kind = "embedded"

    def __init__(self, runtime: Runtime, display_name: str | None = None) -> None:
        super().__init__(runtime.runtime_id, display_name)
        self.runtime = runtime
        self._closed = False

    @property
    def status(self) -> Availability:
        return "unavailable" if self._closed else "available"

    async def start(self, bundle: ConfigBundle) -> None:
        await self.runtime.put_config_bundle(bundle.digest, bundle)
        self.bundle = ConfigBundleRef(bundle.digest)

    async def aclose(self) -> None:
        self._closed = True

    async def describe(self) -> RuntimeView:
        summary = await self.runtime.summary()
        diagnostics = tuple(await self.runtime.diagnostics())
        return RuntimeView.of(
            self.runtime_id,
            self.kind,
            self.status,
            display_name=self.display_name,
            summary=summary,
            diagnostics=diagnostics,
        )

    async def call(self, operation: Callable[[RuntimeApi], Awaitable[T]]) -> T:
        return await operation(self.runtime)

    async def subscribe(self, worker_id: str, cursor: str | None) -> Observation:
        return await self.runtime.subscribe(worker_id, cursor)
